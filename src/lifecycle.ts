/**
 * Process lifecycle for the CLI. The first SIGINT/SIGTERM aborts `shutdownSignal`; long-running
 * commands (which declare it) watch it and stop cleanly; a second signal aborts `forceSignal` for
 * them (stop now), and a third exits at once. One-shot commands are cut short at the first signal:
 * registered cleanups run (closing the database, which may stop the embedded server), exit 130.
 * A process run by `cesar start` (it has an IPC channel) stops the same way when that channel
 * closes, so that no part outlives a supervisor that died.
 */
const controller = new AbortController();
const forceController = new AbortController();
export const shutdownSignal: AbortSignal = controller.signal;
export const forceSignal: AbortSignal = forceController.signal;

const cleanups = new Set<() => Promise<void>>();
let handlesInterrupt = false;

/** Resolves at the first SIGINT/SIGTERM (or when the supervisor goes away). */
export function untilShutdown(): Promise<void> {
  return new Promise((resolve) => {
    if (shutdownSignal.aborted) resolve();
    else shutdownSignal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Run fn when a one-shot command is interrupted. Returns the function that unregisters it. */
export function onInterruptCleanup(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** The running command ends by itself when shutdownSignal aborts (watch loops, services). */
export function declareInterruptHandled(): void {
  handlesInterrupt = true;
}

export function installSignalHandlers(): void {
  let signals = 0;
  const handler = (reason: string): void => {
    signals += 1;
    if (signals > 1 && !handlesInterrupt) process.exit(130);
    if (signals > 2) process.exit(130);
    if (signals === 2) {
      forceController.abort(new Error(reason));
      return;
    }
    controller.abort(new Error(reason));
    if (handlesInterrupt) return;
    const timeout = setTimeout(() => process.exit(130), 10_000);
    timeout.unref();
    void Promise.allSettled([...cleanups].map((fn) => fn())).then(() => process.exit(130));
  };
  process.on('SIGINT', () => handler('received SIGINT'));
  process.on('SIGTERM', () => handler('received SIGTERM'));
  if (typeof process.send === 'function') {
    // The channel to the supervisor must not keep this process alive once its work is done.
    process.channel?.unref();
    process.on('disconnect', () => {
      if (!controller.signal.aborted) handler('lost its supervisor');
    });
  }
}

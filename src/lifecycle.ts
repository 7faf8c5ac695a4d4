/**
 * Process lifecycle for the CLI: SIGINT/SIGTERM abort `shutdownSignal`. Long-running commands watch
 * the signal and end cleanly; one-shot commands are cut short: registered cleanups run (closing the
 * database, which may stop the embedded server) and the process exits 130. A second signal exits at once.
 */
const controller = new AbortController();
export const shutdownSignal: AbortSignal = controller.signal;

const cleanups = new Set<() => Promise<void>>();
let handlesInterrupt = false;

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
  const handler = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) process.exit(130);
    controller.abort(new Error(`received ${signal}`));
    if (handlesInterrupt) return;
    const timeout = setTimeout(() => process.exit(130), 10_000);
    timeout.unref();
    void Promise.allSettled([...cleanups].map((fn) => fn())).then(() => process.exit(130));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

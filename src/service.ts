import { declareInterruptHandled, forceSignal, shutdownSignal, untilShutdown } from './lifecycle.js';
import type { Logger } from './log.js';

/**
 * A long-running part of cesar (the worker, the API, later the scheduler and the dashboard): it
 * starts until ready, runs until the shutdown signal, and stops within a grace period. `cesar start`
 * runs each part as its own `cesar <part>` process; each of those runs its service through
 * runService, so every part starts, reports ready and stops the same way.
 */
export interface Service {
  /** "worker", "api", ...: names the part in logs and in the ready report to `cesar start`. */
  readonly name: string;
  /** Resolves once the part does its work (listening, claiming), with what the ready report carries (url, port, id). */
  start(): Promise<Record<string, unknown>>;
  /**
   * Stop: finish or hand back the work in hand and release what was taken. `force` aborts when the
   * grace period is over or a second signal came: stop at once then.
   */
  stop(force: AbortSignal): Promise<void>;
}

export interface RunServiceOptions {
  log: Logger;
  /** How long stop() may take before it is told to hurry (force aborts). */
  graceMs: number;
}

/**
 * Run a service as this process's one job: start it (an interrupt during start-up stops it), tell
 * `cesar start` it is ready, wait for SIGINT/SIGTERM (or the supervisor going away), then stop it.
 * Returns the exit code: 0 after a clean stop.
 */
export async function runService(service: Service, options: RunServiceOptions): Promise<number> {
  declareInterruptHandled();
  const { log } = options;
  const details = await service.start();
  reportReady({ part: service.name, ...details });
  await untilShutdown();
  log.info(`Stopping the ${service.name} (${(shutdownSignal.reason as Error | undefined)?.message ?? 'signal'})`);
  const force = new AbortController();
  const onForce = () => force.abort(new Error('a second signal: stopping at once'));
  forceSignal.addEventListener('abort', onForce, { once: true });
  const timer = setTimeout(() => {
    log.warn(`The ${service.name} did not stop within ${Math.round(options.graceMs / 1000)} s: stopping it at once`);
    force.abort(new Error('grace period over'));
  }, options.graceMs);
  timer.unref();
  try {
    await service.stop(force.signal);
  } finally {
    clearTimeout(timer);
    forceSignal.removeEventListener('abort', onForce);
  }
  return 0;
}

/** When `cesar start` runs this process (with an IPC channel), tell it this part is ready. */
function reportReady(details: Record<string, unknown>): void {
  if (typeof process.send === 'function') process.send({ type: 'ready', ...details });
}

/**
 * Tell `cesar start` this part is not ready yet because it waits for something outside cesar (the
 * database): it is not stuck, so start does not give up on it at its ready timeout.
 */
export function reportWaiting(reason: string): void {
  if (typeof process.send === 'function' && process.connected) process.send({ type: 'waiting', reason });
}

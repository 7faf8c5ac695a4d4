import { CesarError, ExitCode } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * Outages: errors that mean "the database does not answer right now", which waiting can fix, as
 * opposed to a wrong password, a missing database or schema, which it cannot.
 */
const unreachableErrnos = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);
/** pg reports a lost or timed-out connection with these messages and no code. */
const unreachableMessage =
  /Connection terminated|connection timeout|timeout expired|timeout exceeded when trying to connect|connection error and is not queryable|Client was closed/i;

/**
 * True when err (or an error it wraps) means the database is unreachable: refused, timed out or
 * reset connections, the server shutting down or starting up (SQLSTATE 57P0x), connection
 * exceptions (08xxx), too many connections (53300).
 */
export function isDatabaseUnreachable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (unreachableErrnos.has(code) || /^57P0[0-35-9]$/.test(code) || /^08/.test(code) || code === '53300') return true;
      // A code of ours (db_unreachable, ...) says nothing: look at its cause.
      if (!(e instanceof CesarError)) return false;
    } else if (unreachableMessage.test(e.message)) {
      return true;
    }
  }
  return false;
}

export interface RetryOptions {
  log: Logger;
  /** What is waiting, for the log line: "the worker", "cesar start". */
  who: string;
  /** Stops the wait: the last error is thrown then. */
  signal?: AbortSignal;
  /** First pause; doubled up to maxDelayMs (default 1 s and 30 s). */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** At most one log line this often (default 5 s). */
  logEveryMs?: number;
  /** Called after each failed attempt, before the pause (e.g. to tell `cesar start`). */
  onWait?: (err: unknown) => void;
}

/**
 * Run fn until it succeeds, waiting with jittered exponential backoff while it fails because the
 * database is unreachable; any other error is thrown at once, and a shutdown (signal) ends the wait
 * with an `interrupted` CesarError (exit 130).
 */
export async function retryWhileUnreachable<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const first = options.firstDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 30_000;
  const reporter = new OutageReporter(options.log, options.who, options.logEveryMs);
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await fn();
      reporter.recovered();
      return value;
    } catch (err) {
      if (!isDatabaseUnreachable(err)) throw err;
      if (options.signal?.aborted) throw stoppedWhileWaiting(options.who, err);
      const delay = Math.min(max, first * 2 ** Math.min(attempt - 1, 20)) * (0.75 + Math.random() / 2);
      reporter.failed(err, `attempt ${attempt}; next in ${Math.max(1, Math.round(delay / 1000))} s`);
      options.onWait?.(err);
      if (!(await sleep(delay, options.signal))) throw stoppedWhileWaiting(options.who, err);
    }
  }
}

/** A shutdown ended the wait: exit 130 (interrupted), not a database error. */
function stoppedWhileWaiting(who: string, cause: unknown): CesarError {
  return new CesarError(`${who} was stopped while waiting for the database`, 'interrupted', ExitCode.interrupted, undefined, { cause });
}

/**
 * Logs an outage without flooding: the first failure at once, then at most one line every
 * logEveryMs, and one line when the database answers again.
 */
export class OutageReporter {
  private since: number | undefined;
  private lastLog = 0;

  constructor(
    private readonly log: Logger,
    private readonly who: string,
    private readonly logEveryMs = 5000,
  ) {}

  get down(): boolean {
    return this.since !== undefined;
  }

  failed(err: unknown, detail?: string): void {
    const now = Date.now();
    this.since ??= now;
    if (now - this.lastLog < this.logEveryMs) return;
    this.lastLog = now;
    const e = err as { message?: string; hint?: string };
    const waited = Math.round((now - this.since) / 1000);
    this.log.warn(
      `${this.who} is waiting for the database${waited > 0 ? ` (for ${waited} s)` : ''}: ${e.message ?? String(err)}${detail ? ` (${detail})` : ''}; it resumes by itself when the database answers (next: ${e.hint ?? 'check that PostgreSQL runs and DATABASE_URL points at it'})`,
    );
  }

  recovered(): void {
    if (this.since === undefined) return;
    this.log.info(`${this.who}: the database answers again after ${Math.round((Date.now() - this.since) / 1000)} s`);
    this.since = undefined;
    this.lastLog = 0;
  }
}

/** Resolves true after ms, or false as soon as signal aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

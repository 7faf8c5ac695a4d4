import chalk from 'chalk';
import { type Config, loadConfig } from '../config.js';
import { type DatabaseHandle, type OpenOptions, openDatabase } from '../db/connect.js';
import { retryWhileUnreachable } from '../db/wait.js';
import { onInterruptCleanup, shutdownSignal } from '../lifecycle.js';
import { createLogger, type Logger } from '../log.js';
import { reportWaiting } from '../service.js';

export interface GlobalOptions {
  verbose?: boolean;
  color?: boolean;
  home?: string;
  logLevel?: string;
  logFormat?: string;
}

export interface CliContext {
  config: Config;
  log: Logger;
  /** Write to stdout: command output proper (logs go to stderr). */
  out(text: string): void;
}

export function createContext(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env, proc = 'cli'): CliContext {
  // chalk already honours --no-color, FORCE_COLOR and non-TTY output; NO_COLOR (no-color.org) is ours.
  if (globals.color === false || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) chalk.level = 0;
  const config = loadConfig(env, {
    home: globals.home,
    logLevel: globals.logLevel,
    logFormat: globals.logFormat,
    verbose: globals.verbose,
  });
  return {
    config,
    log: createLogger({ level: config.logLevel, format: config.logFormat, proc }),
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  };
}

export interface WithDatabaseOptions extends Partial<OpenOptions> {
  /**
   * Long-running parts name themselves here ("the worker"): while the database is unreachable
   * (refused, timed out, shutting down), they wait and retry with backoff until it answers or the
   * shutdown signal comes, and tell `cesar start` they wait. Other failures (wrong password, missing
   * database) still throw at once.
   */
  waitForDatabase?: string;
}

/** Open the database for the length of fn; an interrupt still closes it (and releases the embedded server). */
export async function withDatabase<T>(
  ctx: CliContext,
  fn: (handle: DatabaseHandle) => Promise<T>,
  options: WithDatabaseOptions = {},
): Promise<T> {
  const { waitForDatabase, ...openOptions } = options;
  const target = ctx.config.databaseUrl === undefined ? `the embedded PostgreSQL in ${ctx.config.home}` : 'DATABASE_URL';
  ctx.log.debug(`Connecting to ${target}`);
  const open = () => openDatabase(ctx.config, { log: ctx.log, ...openOptions });
  const handle = waitForDatabase === undefined ? await open() : await openWaiting(ctx, open, waitForDatabase);
  const unregister = onInterruptCleanup(() => handle.close());
  try {
    ctx.log.debug(`Connected to ${handle.server.version} at ${handle.displayUrl}`);
    return await fn(handle);
  } finally {
    unregister();
    await handle.close();
  }
}

/** Open, waiting while the database is unreachable; a shutdown ends the wait (exit 130, not a database error). */
function openWaiting(ctx: CliContext, open: () => Promise<DatabaseHandle>, who: string): Promise<DatabaseHandle> {
  return retryWhileUnreachable(open, {
    log: ctx.log,
    who,
    signal: shutdownSignal,
    onWait: (err) => reportWaiting(`database unreachable: ${(err as Error).message}`),
  });
}

/** "PostgreSQL 18.4 at postgres://postgres:***@127.0.0.1:41234/cesar (embedded)" */
export function describeDatabase(handle: DatabaseHandle): string {
  return `${handle.server.version} at ${handle.displayUrl}${handle.embedded ? ' (embedded)' : ''}`;
}

import chalk from 'chalk';
import { type Config, loadConfig } from '../config.js';
import { type DatabaseHandle, type OpenOptions, openDatabase } from '../db/connect.js';
import { onInterruptCleanup } from '../lifecycle.js';
import { createLogger, type Logger } from '../log.js';

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

/** Open the database for the length of fn; an interrupt still closes it (and releases the embedded server). */
export async function withDatabase<T>(
  ctx: CliContext,
  fn: (handle: DatabaseHandle) => Promise<T>,
  options: Partial<OpenOptions> = {},
): Promise<T> {
  const target = ctx.config.databaseUrl === undefined ? `the embedded PostgreSQL in ${ctx.config.home}` : 'DATABASE_URL';
  ctx.log.debug(`Connecting to ${target}`);
  const handle = await openDatabase(ctx.config, { log: ctx.log, ...options });
  const unregister = onInterruptCleanup(() => handle.close());
  try {
    ctx.log.debug(`Connected to ${handle.server.version} at ${handle.displayUrl}`);
    return await fn(handle);
  } finally {
    unregister();
    await handle.close();
  }
}

/** "PostgreSQL 18.4 at postgres://postgres:***@127.0.0.1:41234/cesar (embedded)" */
export function describeDatabase(handle: DatabaseHandle): string {
  return `${handle.server.version} at ${handle.displayUrl}${handle.embedded ? ' (embedded)' : ''}`;
}

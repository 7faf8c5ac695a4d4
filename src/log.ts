import type { LogFormat, LogLevel } from './config.js';
import { maskSecrets } from './mask.js';
import { escapeControl } from './text.js';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** The process part writing ("cli", "worker", ...). */
  proc: string;
  write?: (line: string) => void;
}

/** One logger for all: text or JSON lines on stderr, one line per entry, every line masked. Output proper goes to stdout. */
export function createLogger(options: LoggerOptions, bound: LogFields = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (rank[level] < rank[options.level]) return;
    const all = { ...bound, ...fields };
    if (options.format === 'json') {
      write(maskSecrets(JSON.stringify({ time: new Date().toISOString(), level, proc: options.proc, msg, ...all })));
    } else {
      const extra = Object.entries(all).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      const prefix = level === 'info' ? '' : `${level.toUpperCase()}: `;
      // One entry, one line: a newline or escape sequence in a message (user input, an error) is escaped.
      write(maskSecrets(escapeControl(`${prefix}${msg}${extra.length ? ` ${extra.join(' ')}` : ''}`)));
    }
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/** A logger that writes nothing (library callers that want silence). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

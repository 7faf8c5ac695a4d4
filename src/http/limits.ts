import fs from 'node:fs';

/**
 * How long a connection may take at each step before it is destroyed (milliseconds). A slow or
 * silent client holds a file descriptor; these bound how long.
 */
export interface HttpTimeouts {
  /** The request line and headers must arrive within this (answer: 408, then the socket is destroyed). */
  headers: number;
  /** The whole request, body included, must arrive within this (408, destroyed). */
  request: number;
  /** An idle keep-alive connection is destroyed after this. */
  keepAlive: number;
  /** A connection without any traffic for this long (a client that stops reading an answer) is destroyed. */
  idle: number;
  /** How often Node checks the headers and request timeouts (they are only enforced at these checks). */
  check: number;
}

export const defaultTimeouts: HttpTimeouts = {
  headers: 10_000,
  request: 30_000,
  keepAlive: 5_000,
  idle: 60_000,
  check: 1_000,
};

/** Used when the file-descriptor limit cannot be read (not Linux). */
const fallbackMaxConnections = 512;
const maxConnectionsCeiling = 4096;
const minConnections = 16;

/** The soft RLIMIT_NOFILE of this process, from /proc/self/limits; undefined when unknown or unlimited. */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  const n = Number(soft);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * The default cap on concurrent HTTP connections: what the file-descriptor limit leaves after
 * `reserved` descriptors for everything else (the database pool, logs, Node itself), between 16 and
 * 4096; 512 when the limit cannot be read.
 */
export function defaultMaxConnections(reserved: number): number {
  return maxConnectionsFor(openFileLimit(), reserved);
}

/** The connection cap for an open-file limit (undefined: unknown); see defaultMaxConnections. */
export function maxConnectionsFor(limit: number | undefined, reserved: number): number {
  if (limit === undefined) return fallbackMaxConnections;
  return Math.min(maxConnectionsCeiling, Math.max(minConnections, limit - reserved));
}

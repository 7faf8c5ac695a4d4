import http from 'node:http';
import { isDatabaseUnreachable } from '../db/wait.js';
import { CesarError, DatabaseError, InputError, NotFoundError, StateError } from '../errors.js';
import type { Logger } from '../log.js';
import { maskSecrets } from '../mask.js';

/** An answer decided by the HTTP layer itself (unknown route, wrong method, bad body, missing token). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Every error answer: `{"error": {"code", "message", "field"?}}`. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export interface ErrorAnswer {
  statusCode: number;
  body: ErrorBody;
}

/**
 * A database that cannot answer now: what the workers wait through (src/db/wait.ts), plus the
 * SQLSTATE classes of a server that refuses work (57P: shutdown or cancelled by an operator; 53:
 * out of connections, disk or memory) and a database host that does not resolve.
 */
function isDatabaseUnavailable(err: unknown): boolean {
  if (isDatabaseUnreachable(err)) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (/^(57P|53)/.test(code) || code === 'ENOTFOUND');
}

/** "Unsupported Media Type" → "unsupported_media_type": the code of a status Fastify decided. */
function codeOfStatus(statusCode: number): string {
  return (http.STATUS_CODES[statusCode] ?? 'bad_request').toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

function answer(statusCode: number, code: string, message: string, field?: string): ErrorAnswer {
  return { statusCode, body: { error: { code, message: maskSecrets(message), ...(field ? { field } : {}) } } };
}

/**
 * Map any error to its answer. Errors of the client are 4xx with a message saying what to change;
 * the rest are 5xx, and an error nobody expected is logged with its stack (the client only learns
 * that the API log has it).
 */
export function errorAnswer(err: unknown, context: { log: Logger; name: string; bodyLimit: number }): ErrorAnswer {
  const { log, name, bodyLimit } = context;
  if (err instanceof HttpError) return answer(err.statusCode, err.code, err.message, err.field);
  if (err instanceof InputError) return answer(400, err.code, err.message, err.field);
  if (err instanceof NotFoundError) return answer(404, err.code, err.message);
  if (err instanceof StateError) return answer(409, err.code, err.message);
  if (err instanceof DatabaseError) return answer(503, 'database_unavailable', err.message);
  const fastify = err as { code?: unknown; statusCode?: unknown; message?: unknown };
  if (fastify?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return answer(413, 'body_too_large', `the body is over the limit of ${bodyLimit} bytes (${Math.round(bodyLimit / 1024)} KiB)`);
  }
  if (fastify?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return answer(415, 'unsupported_media_type', 'the Content-Type is not accepted; send JSON with Content-Type: application/json');
  }
  // Fastify's own refusals of a request (bad Content-Length, a body cut short, ...). Before the
  // database check: a client that drops its connection mid-body fails with ECONNRESET too.
  if (typeof fastify?.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    return answer(fastify.statusCode, codeOfStatus(fastify.statusCode), String(fastify.message));
  }
  if (isDatabaseUnavailable(err)) return answer(503, 'database_unavailable', 'the database is unavailable; try again shortly');
  if (err instanceof CesarError) return answer(500, err.code, err.message);
  log.error(`${name} request failed: ${(err as Error)?.stack ?? String(err)}`);
  return answer(500, 'internal', `internal error; see the ${name} log`);
}

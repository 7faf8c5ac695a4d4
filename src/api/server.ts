import http from 'node:http';
import type pg from 'pg';
import { bearerMatches } from '../auth/token.js';
import { migrationStatus } from '../db/migrator.js';
import type { JobStatus } from '../db/types.js';
import { CesarError, DatabaseError, InputError, NotFoundError, StateError } from '../errors.js';
import type { Logger } from '../log.js';
import { maskSecrets } from '../mask.js';
import { createMetrics } from '../monitoring/metrics.js';
import { enqueue, maxPayloadBytes, type NewJob } from '../queue/enqueue.js';
import type { JobTypeRegistry } from '../queue/job-types.js';
import { cancelJob, getJob, listJobs, retryJob } from '../queue/jobs.js';
import { getStatus } from '../status/status.js';

export interface ApiOptions {
  pool: pg.Pool;
  registry: JobTypeRegistry;
  log: Logger;
  token: string;
  version: string;
  serverVersion: string;
}

/** Bodies larger than this are refused with 413 before they are read whole. */
export const maxBodyBytes = maxPayloadBytes + 16 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

type Handler = (req: http.IncomingMessage, params: string[], url: URL) => Promise<[number, unknown] | [number, string, string]>;

/**
 * The HTTP API: plain node:http, routes as thin adapters over the core library. Reads are open
 * (it binds to loopback by default); every mutation needs the bearer token. Errors are JSON
 * `{"error": {"code", "message", "field"?}}`; nothing a client sends reaches an unhandled throw.
 */
export function createApiServer(options: ApiOptions): http.Server {
  const { pool, registry, log } = options;
  const metrics = createMetrics(pool);

  const routes: Array<[method: string, pattern: RegExp, mutation: boolean, handler: Handler]> = [
    ['GET', /^\/health$/, false, async () => health(options)],
    ['GET', /^\/ready$/, false, async () => ready(pool)],
    ['GET', /^\/metrics$/, false, async () => [200, await metrics.render(), metrics.contentType]],
    ['GET', /^\/api\/status$/, false, async () => [200, await getStatus(pool)]],
    ['GET', /^\/api\/jobs$/, false, async (_req, _p, url) => [200, { jobs: await listJobs(pool, listOptions(url)) }]],
    [
      'POST',
      /^\/api\/jobs$/,
      true,
      async (req) => {
        const result = await enqueue(pool, toNewJob(await readJson(req)), registry);
        return [
          result.deduplicated ? 200 : 201,
          { id: result.id, deduplicated: result.deduplicated, type: result.type, queue: result.queue, run_at: result.runAt.toISOString() },
        ];
      },
    ],
    [
      'GET',
      /^\/api\/jobs\/([^/]+)$/,
      false,
      async (_req, [id]) => {
        const job = await getJob(pool, jobId(id!));
        if (!job) throw new NotFoundError(`no job ${id}`);
        return [200, job];
      },
    ],
    ['POST', /^\/api\/jobs\/([^/]+)\/retry$/, true, async (_req, [id]) => [200, await retryJob(pool, jobId(id!))]],
    ['POST', /^\/api\/jobs\/([^/]+)\/cancel$/, true, async (_req, [id]) => [200, await cancelJob(pool, jobId(id!))]],
  ];

  const server = http.createServer((req, res) => {
    void (async () => {
      const started = performance.now();
      let status = 500;
      try {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const matching = routes.filter(([, pattern]) => pattern.test(url.pathname));
        if (matching.length === 0) throw new HttpError(404, 'not_found', `no route ${url.pathname}`);
        const route = matching.find(([method]) => method === req.method);
        if (!route) {
          res.setHeader('Allow', matching.map(([m]) => m).join(', '));
          throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
        }
        const [, pattern, mutation, handler] = route;
        if (mutation && !bearerMatches(req.headers.authorization, options.token)) {
          throw new HttpError(
            401,
            'unauthorized',
            'this request needs Authorization: Bearer <token> (CESAR_API_TOKEN, or the api-token file in CESAR_HOME)',
          );
        }
        const answer = await handler(req, (pattern.exec(url.pathname) ?? []).slice(1).map(decodeURIComponent), url);
        status = answer[0];
        if (answer.length === 3) send(res, status, answer[1], answer[2]);
        else sendJson(res, status, answer[1]);
      } catch (err) {
        const [code, body] = errorAnswer(err, log);
        status = code;
        if (!res.headersSent) sendJson(res, code, body);
        if (code === 413) req.destroy();
      } finally {
        log.debug(`${req.method} ${req.url} ${status} ${(performance.now() - started).toFixed(1)} ms`);
      }
    })();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable)
      socket.end(
        'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n{"error":{"code":"bad_request","message":"malformed HTTP request"}}',
      );
    else socket.destroy();
  });
  return server;
}

function send(res: http.ServerResponse, status: number, body: string, contentType: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, `${JSON.stringify(value)}\n`, 'application/json; charset=utf-8');
}

function errorAnswer(err: unknown, log: Logger): [number, unknown] {
  const body = (code: string, message: string, field?: string) => ({
    error: { code, message: maskSecrets(message), ...(field ? { field } : {}) },
  });
  if (err instanceof HttpError) return [err.status, body(err.code, err.message, err.field)];
  if (err instanceof InputError) return [400, body(err.code, err.message, err.field)];
  if (err instanceof NotFoundError) return [404, body(err.code, err.message)];
  if (err instanceof StateError) return [409, body(err.code, err.message)];
  if (err instanceof DatabaseError) return [503, body(err.code, err.message)];
  if (err instanceof CesarError) return [500, body(err.code, err.message)];
  const pgCode = (err as { code?: string }).code;
  if (pgCode && /^(08|57P|53)/.test(pgCode)) return [503, body('database_unavailable', 'the database is unavailable; try again')];
  log.error(`API request failed: ${(err as Error)?.stack ?? String(err)}`);
  return [500, body('internal', 'internal error; see the API log')];
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBodyBytes) throw new HttpError(413, 'body_too_large', `the body is ${declared} bytes; the limit is ${maxBodyBytes}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw new HttpError(413, 'body_too_large', `the body is over the limit of ${maxBodyBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'invalid_json', 'the body is empty; send a JSON object');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

const jobFields = ['type', 'payload', 'priority', 'run_at', 'delay_ms', 'max_attempts', 'queue', 'key'];

/** The POST /api/jobs body, field by field, with the same rules as `cesar enqueue`. */
function toNewJob(body: unknown): NewJob {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'invalid_input', 'the body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!jobFields.includes(key))
      throw new HttpError(400, 'invalid_input', `unknown field "${key}"; allowed: ${jobFields.join(', ')}`, key);
  }
  const bad = (field: string, what: string) => new HttpError(400, 'invalid_input', `${field} must be ${what}`, field);
  if (typeof b.type !== 'string') throw bad('type', 'a string (the job type)');
  const optionalInt = (field: string) => {
    const v = b[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(field, 'an integer');
    return v;
  };
  let runAt: Date | undefined;
  if (b.run_at !== undefined && b.run_at !== null) {
    if (typeof b.run_at !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(b.run_at) || Number.isNaN(new Date(b.run_at).getTime())) {
      throw bad('run_at', 'an ISO 8601 time like 2026-01-31T09:00:00Z');
    }
    runAt = new Date(b.run_at);
  }
  if (b.queue !== undefined && typeof b.queue !== 'string') throw bad('queue', 'a string');
  if (b.key !== undefined && b.key !== null && typeof b.key !== 'string') throw bad('key', 'a string');
  return {
    type: b.type,
    payload: b.payload,
    priority: optionalInt('priority'),
    runAt,
    delayMs: optionalInt('delay_ms'),
    maxAttempts: optionalInt('max_attempts'),
    queue: b.queue as string | undefined,
    dedupeKey: (b.key as string | null | undefined) ?? undefined,
  };
}

function jobId(text: string): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1)
    throw new HttpError(400, 'invalid_input', `"${text}" is not a job id (a positive integer)`, 'id');
  return Number(text);
}

function listOptions(url: URL) {
  const q = url.searchParams;
  const int = (name: string) => {
    const v = q.get(name);
    if (v === null) return undefined;
    if (!/^\d+$/.test(v)) throw new HttpError(400, 'invalid_input', `${name} must be a positive integer`, name);
    return Number(v);
  };
  return {
    status: (q.get('status') ?? undefined) as JobStatus | undefined,
    type: q.get('type') ?? undefined,
    limit: int('limit'),
    beforeId: int('before'),
  };
}

async function health(options: ApiOptions): Promise<[number, unknown]> {
  const started = performance.now();
  try {
    const [queue, workers] = await Promise.all([
      options.pool.query<{ pending: number; runnable: number; in_progress: number; failed: number }>(
        `SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                count(*) FILTER (WHERE status = 'pending' AND run_at <= now()) AS runnable,
                count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
                count(*) FILTER (WHERE status = 'failed') AS failed
           FROM job_queue WHERE status IN ('pending', 'in_progress', 'failed')`,
      ),
      options.pool.query<{ id: string; last_heartbeat_at: Date; live: boolean }>(
        `SELECT id, last_heartbeat_at, last_heartbeat_at > now() - interval '2 minutes' AS live
           FROM workers WHERE stopped_at IS NULL ORDER BY last_heartbeat_at DESC LIMIT 100`,
      ),
    ]);
    return [
      200,
      {
        status: 'ok',
        version: options.version,
        database: { round_trip_ms: Math.round((performance.now() - started) * 100) / 100, server: options.serverVersion },
        workers: workers.rows.map((w) => ({ id: w.id, last_heartbeat_at: w.last_heartbeat_at.toISOString(), live: w.live })),
        queue: queue.rows[0],
      },
    ];
  } catch (err) {
    return [503, { status: 'unavailable', reason: `database: ${maskSecrets((err as Error).message)}`, version: options.version }];
  }
}

async function ready(pool: pg.Pool): Promise<[number, unknown]> {
  try {
    const status = await migrationStatus(pool);
    if (status.applied.length === 0) return [503, { ready: false, reason: 'the database has no cesar schema (run `cesar migrate`)' }];
    if (status.pending.length > 0)
      return [503, { ready: false, reason: `${status.pending.length} migrations pending (run \`cesar migrate\`)` }];
    return [200, { ready: true }];
  } catch (err) {
    return [503, { ready: false, reason: `database: ${maskSecrets((err as Error).message)}` }];
  }
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { executionIdParams, jobIdParams } from '../api/schemas.js';
import type { Database } from '../db/types.js';
import { NotFoundError } from '../errors.js';
import { type EventPublisher, noEvents } from '../events/envelope.js';
import { createHttpApp, type HttpApp } from '../http/app.js';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../log.js';
import { maxPayloadBytes } from '../queue/enqueue.js';
import type { JobTypeRegistry } from '../queue/job-types.js';
import { searchJobs } from '../read-model/dashboard.js';
import { agentCounts, getExecution, getJob, listExecutions } from '../read-model/index.js';
import { builtInStepHandlers } from '../steps/index.js';
import type { StepHandlerRegistry } from '../workflows/step-handlers.js';
import { registerActionRoutes } from './actions.js';
import { type Asset, loadPublicAssets, loadVendorAssets } from './assets.js';
import { registerSessionRoutes } from './auth.js';
import { type ChangeFeed, tickFeed } from './changes.js';
import { type LiveClient, LiveSnapshots } from './live.js';
import { agentEventsQuery, executionsQuery, jobSearchQuery } from './schemas.js';
import { SessionStore } from './sessions.js';
import { agents, dashboardSnapshot, overview, workflows } from './snapshot.js';

export interface DashboardOptions {
  pool: pg.Pool;
  /** Reads go through the read model, on Kysely over the same pool. */
  db: Kysely<Database>;
  log: Logger;
  /** The API token: signing in to the dashboard's actions takes it. */
  token: string;
  version: string;
  registry: JobTypeRegistry;
  /** The step handlers this cesar has (default: the built-in ones). */
  steps?: StepHandlerRegistry;
  /** What makes the live snapshot be read again (default: a tick every 2 s). */
  changes?: ChangeFeed;
  /** Where actions are published as action.performed events (default: nowhere). */
  events?: EventPublisher;
  /** The live snapshot is read at most this often (ms, default 1000). */
  liveIntervalMs?: number;
  /** How long a sign-in lasts (ms, default 8 hours). */
  sessionTtlMs?: number;
  /** CESAR_JOB_RETENTION: a unique_for window may not outlast it. */
  jobRetentionMs?: number;
  /** Open connections are capped at this (see capConnections); default: no cap. */
  maxConnections?: number;
  /** Open live streams are capped at this (default 100). */
  maxLiveClients?: number;
  /** The page's files (default: src/dashboard/public of this package). */
  publicDir?: string;
  /** Called after each live snapshot is read (tests count them). */
  onSnapshot?: () => void;
}

/** The fallback change feed's period: numbers move even when nothing notifies (workers finishing jobs). */
export const defaultTickMs = 2_000;

const defaultSessionTtlMs = 8 * 3_600_000;

/**
 * Script only from this server; no inline script or style, no frames, no other origin. The page
 * needs nothing else: its modules, its style sheets and uPlot's are all served from here.
 */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const securityHeaders: Record<string, string> = {
  'content-security-policy': contentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * The live dashboard on cesar's HTTP layer: the page and its assets, JSON reads under
 * /dashboard-api/, one Server-Sent Events stream that every open page shares (see LiveSnapshots),
 * and the signed-in operator's actions. Reads are open, like the API's (it binds to loopback by
 * default); actions need a session from the API token.
 */
export function createDashboardApp(options: DashboardOptions): HttpApp {
  const { db, log } = options;
  const steps = options.steps ?? builtInStepHandlers();
  const handlers = () => new Set(steps.names());
  const app = createHttpApp({
    name: 'dashboard',
    log,
    token: options.token,
    bodyLimit: maxPayloadBytes + 16 * 1024,
    maxConnections: options.maxConnections,
  });
  const sessionTtlMs = options.sessionTtlMs ?? defaultSessionTtlMs;
  const sessions = new SessionStore(sessionTtlMs);
  const live = new LiveSnapshots({
    compute: () => dashboardSnapshot(db, handlers()),
    changes: options.changes ?? tickFeed(defaultTickMs),
    minIntervalMs: options.liveIntervalMs ?? 1_000,
    maxClients: options.maxLiveClients,
    log,
    onComputed: options.onSnapshot,
  });

  app.addHook('onSend', async (_request, reply) => {
    reply.headers(securityHeaders);
  });
  // Live streams never end by themselves: end them, or closing the server would wait for them.
  app.addHook('preClose', async () => live.close());

  registerAssetRoutes(app, options.publicDir);
  registerSessionRoutes(app, { token: options.token, sessions, sessionTtlMs, log });
  registerActionRoutes(app, {
    pool: options.pool,
    registry: options.registry,
    steps,
    sessions,
    events: options.events ?? noEvents,
    log,
    jobRetentionMs: options.jobRetentionMs,
  });
  registerReadRoutes(app, options, handlers);

  app.get('/dashboard-api/events', async (_request, reply) => streamSnapshots(live, reply));
  return app;
}

function registerReadRoutes(app: HttpApp, options: DashboardOptions, handlers: () => ReadonlySet<string>): void {
  const { db } = options;

  app.get('/dashboard-api/info', async () => ({
    version: options.version,
    job_types: options.registry.specs().map((s) => ({ name: s.name, description: s.description })),
  }));

  app.get('/dashboard-api/overview', async () => overview(db));

  app.get('/dashboard-api/jobs', { schema: { querystring: jobSearchQuery } }, async (request) => {
    const { type, state, q, before, limit } = request.query;
    return searchJobs(db, { type, status: state, text: q, before, limit });
  });

  app.get('/dashboard-api/jobs/:id', { schema: { params: jobIdParams } }, async (request) => {
    const job = await getJob(db, request.params.id);
    if (!job) throw new NotFoundError(`no job ${request.params.id}`);
    return job;
  });

  app.get('/dashboard-api/workflows', async () => workflows(db, handlers()));

  app.get('/dashboard-api/executions', { schema: { querystring: executionsQuery } }, async (request) => ({
    executions: await listExecutions(db, { template: request.query.template, limit: 50 }),
  }));

  app.get('/dashboard-api/executions/:id', { schema: { params: executionIdParams } }, async (request) => {
    const execution = await getExecution(db, request.params.id);
    if (!execution) throw new NotFoundError(`no workflow execution ${request.params.id}`);
    return execution;
  });

  app.get('/dashboard-api/agents', { schema: { querystring: agentEventsQuery } }, async (request) => {
    const [counts, view] = await Promise.all([agentCounts(db), agents(db, request.query.before)]);
    return { agents: counts, ...view };
  });
}

function registerAssetRoutes(app: HttpApp, publicDir?: string): void {
  const files = loadPublicAssets(publicDir);
  const vendor = loadVendorAssets();
  app.get('/', async (request, reply) => sendAsset(request, reply, files.get('index.html')));
  app.get('/assets/:file', async (request, reply) => sendAsset(request, reply, files.get((request.params as { file: string }).file)));
  app.get('/vendor/:file', async (request, reply) => sendAsset(request, reply, vendor.get((request.params as { file: string }).file)));
}

/** A file from memory; revalidated on each load (no-cache + ETag), so a new cesar's page is never stale. */
function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset | undefined) {
  if (!asset) throw new HttpError(404, 'not_found', `no file ${request.url.split('?')[0]}`);
  reply.header('cache-control', 'no-cache').header('etag', asset.etag);
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.type(asset.contentType).send(asset.body);
}

/** Past this many unsent bytes a page is not reading its stream: it is dropped (it reconnects and catches up). */
const maxUnsentBytes = 4 * 1024 * 1024;

/** GET /dashboard-api/events: this page's share of the live snapshots, as Server-Sent Events. */
function streamSnapshots(live: LiveSnapshots<unknown>, reply: FastifyReply): void {
  const raw = reply.raw;
  const client: LiveClient = {
    write(frame) {
      if (raw.writableEnded || raw.destroyed) return false;
      raw.write(frame);
      return raw.writableLength < maxUnsentBytes;
    },
    close() {
      // Not end(): a page that stopped reading would keep its socket until its buffer drained.
      raw.destroy();
    },
  };
  reply.hijack();
  raw.writeHead(200, {
    ...securityHeaders,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  // The response closes when the page goes away (or the connection drops).
  raw.on('close', () => live.remove(client));
  raw.on('error', () => live.remove(client));
  // The browser reconnects after this long when the stream drops.
  raw.write('retry: 2000\n\n');
  if (!live.add(client)) {
    // Full (or stopping): the browser tries again after the longer `retry`.
    const message = JSON.stringify({ message: 'too many live pages are open; trying again shortly' });
    raw.end(`retry: 10000\nevent: unavailable\ndata: ${message}\n\n`);
  }
}

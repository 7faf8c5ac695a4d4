import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from '../db/types.js';
import { NotFoundError } from '../errors.js';
import { publishEnqueued } from '../events/job-events.js';
import { createHttpApp, type HttpApp } from '../http/app.js';
import { buildOpenApi, jobBodyByType, type OpenApiDocument } from '../http/openapi.js';
import type { Logger } from '../log.js';
import { createMetrics } from '../monitoring/metrics.js';
import { enqueue, maxPayloadBytes } from '../queue/enqueue.js';
import type { JobTypeRegistry } from '../queue/job-types.js';
import { cancelJob, retryJob } from '../queue/jobs.js';
import { getJob, getStatus, listJobs } from '../read-model/index.js';
import { builtInStepHandlers } from '../steps/index.js';
import type { StepHandlerRegistry } from '../workflows/step-handlers.js';
import { health, ready } from './health.js';
import { enqueuedAnswer, jobIdParams, listJobsQuery, newJobBody, toNewJob } from './schemas.js';
import { registerWorkflowRoutes } from './workflows.js';

export interface ApiOptions {
  pool: pg.Pool;
  /** Reads go through the read model, on Kysely over the same pool. */
  db: Kysely<Database>;
  registry: JobTypeRegistry;
  /** The step handlers this cesar has (default: the built-in ones): templates naming others are not runnable. */
  steps?: StepHandlerRegistry;
  log: Logger;
  token: string;
  version: string;
  serverVersion: string;
  /** CESAR_JOB_RETENTION: a unique_for window may not outlast it (finished jobs are deleted after it). */
  jobRetentionMs?: number;
  /** Open connections are capped at this (see capConnections); default: no cap (`cesar api` sets one). */
  maxConnections?: number;
}

/** Bodies larger than this are refused with 413 before they are read whole. */
export const maxBodyBytes = maxPayloadBytes + 16 * 1024;

const unavailable = 'the database is unavailable';
const noJob = 'no such job';
const databaseDown = { description: 'the database does not answer: {"status": "unavailable", "reason"}' };

/**
 * The HTTP API on cesar's HTTP layer: each route one call into the core library. Reads are open (it
 * binds to loopback by default); mutations need the bearer token. GET /openapi.json describes every route.
 */
export function createApiApp(options: ApiOptions): HttpApp {
  const { pool, db, registry } = options;
  const steps = options.steps ?? builtInStepHandlers();
  const app = createHttpApp({
    name: 'API',
    log: options.log,
    token: options.token,
    bodyLimit: maxBodyBytes,
    maxConnections: options.maxConnections,
  });
  const metrics = createMetrics(db, pool);
  let openapi: OpenApiDocument | undefined;

  app.get(
    '/health',
    {
      config: {
        docs: {
          summary: 'Health: the database round trip, live workers and queue counts',
          responses: {
            200: '{"status": "ok", "version", "database": {"round_trip_ms", "server"}, "workers": [...], "queue": {...}}',
            503: databaseDown,
          },
        },
      },
    },
    async (_request, reply) => {
      const { statusCode, body } = await health(db, options);
      return reply.code(statusCode).send(body);
    },
  );

  app.get(
    '/ready',
    {
      config: {
        docs: {
          summary: 'Readiness: the database answers and no migration is pending',
          responses: { 200: '{"ready": true}', 503: { description: '{"ready": false, "reason"}' } },
        },
      },
    },
    async (_request, reply) => {
      const { statusCode, body } = await ready(pool);
      return reply.code(statusCode).send(body);
    },
  );

  app.get(
    '/metrics',
    {
      config: {
        docs: {
          summary: 'Prometheus metrics, read from the database at each scrape',
          contentType: metrics.contentType,
          responses: { 200: 'Prometheus text exposition format', 503: unavailable },
        },
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()),
  );

  app.get(
    '/api/status',
    { config: { docs: { summary: 'What `cesar status --json` prints', responses: { 200: 'the status', 503: unavailable } } } },
    async () => getStatus(db, new Set(steps.names())),
  );

  app.get(
    '/api/jobs',
    {
      schema: { querystring: listJobsQuery },
      config: { docs: { summary: 'Jobs, newest first', responses: { 200: '{"jobs": [...]}', 503: unavailable } } },
    },
    async (request) => {
      const { status, type, limit, before } = request.query;
      return { jobs: await listJobs(db, { status, type, limit, beforeId: before }) };
    },
  );

  app.post(
    '/api/jobs',
    {
      schema: { body: newJobBody },
      config: {
        mutation: true,
        docs: {
          summary: 'Enqueue a job',
          description: 'The same checks as `cesar enqueue`: a known type, its payload schema, the limits. A refused job changes nothing.',
          body: jobBodyByType(newJobBody, registry.specs()),
          responses: {
            200: 'a live job has this dedupe key: {"id", "deduplicated": true, "type", "queue", "run_at"}',
            201: '{"id", "deduplicated": false, "type", "queue", "run_at"}',
            503: unavailable,
          },
        },
      },
    },
    async (request, reply) => {
      const job = await enqueue(pool, toNewJob(request.body, options.jobRetentionMs), registry);
      publishEnqueued(job);
      const answer = enqueuedAnswer(job);
      return reply.code(answer.status).send(answer.body);
    },
  );

  app.get(
    '/api/jobs/:id',
    {
      schema: { params: jobIdParams },
      config: {
        docs: { summary: 'One job with its attempts', responses: { 200: 'the job with its attempts', 404: noJob, 503: unavailable } },
      },
    },
    async (request) => {
      const job = await getJob(db, request.params.id);
      if (!job) throw new NotFoundError(`no job ${request.params.id}`);
      return job;
    },
  );

  app.post(
    '/api/jobs/:id/retry',
    {
      schema: { params: jobIdParams },
      config: {
        mutation: true,
        docs: {
          summary: 'Run a failed, cancelled or waiting job again now',
          responses: { 200: 'the job after the change', 404: noJob, 409: 'the job is running or completed', 503: unavailable },
        },
      },
    },
    async (request) => retryJob(pool, request.params.id),
  );

  app.post(
    '/api/jobs/:id/cancel',
    {
      schema: { params: jobIdParams },
      config: {
        mutation: true,
        docs: {
          summary: 'Cancel a pending or running job',
          responses: { 200: 'the job after the change', 404: noJob, 409: 'the job has finished', 503: unavailable },
        },
      },
    },
    async (request) => cancelJob(pool, request.params.id),
  );

  registerWorkflowRoutes(app, { pool, db, steps });

  app.get(
    '/openapi.json',
    { config: { docs: { summary: 'This document: the OpenAPI 3.1 description of every route', responses: { 200: 'OpenAPI 3.1' } } } },
    async () => {
      openapi ??= buildOpenApi(app, {
        title: 'cesar API',
        version: options.version,
        description:
          'Reads are open; mutations need Authorization: Bearer <token>. Errors answer {"error": {"code", "message", "field"?}}.',
      });
      return openapi;
    },
  );

  return app;
}

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { bearerMatches } from '../auth/token.js';
import type { Logger } from '../log.js';
import { capConnections } from './connections.js';
import { errorAnswer, HttpError } from './errors.js';
import { bodyText, checkQuery, checkText, parseQuery } from './input.js';
import { defaultTimeouts, type HttpTimeouts } from './limits.js';
import type { JsonSchema, JsonSchemaDoc } from './openapi.js';
import { collectRoutes } from './routes.js';
import { type ValibotTypeProvider, valibotValidatorCompiler } from './validation.js';

export interface ResponseDoc {
  description: string;
  schema?: JsonSchema;
}

/** What a route says about itself in the OpenAPI document. */
export interface RouteDocs {
  summary: string;
  description?: string;
  /**
   * Status code → what that answer means: a string (an error status then answers the documented
   * error shape), or an object for an answer of its own shape. 400, 401 and 413 are added from the
   * route's schemas and `mutation`.
   */
  responses: Record<number, string | ResponseDoc>;
  /** The media type of the success answers (default application/json). */
  contentType?: string;
  /** Documents the body with this JSON Schema instead of the one converted from `schema.body`. */
  body?: JsonSchemaDoc;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route changes something: it needs `Authorization: Bearer <token>`. */
    mutation?: boolean;
    /** The route's body schema is optional: a request with no body is validated as `{}`. */
    optionalBody?: boolean;
    docs?: RouteDocs;
  }
}

export type HttpApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, ValibotTypeProvider>;

export interface HttpAppOptions {
  /** "API", "dashboard": names the app in log lines and error messages. */
  name: string;
  log: Logger;
  /** The bearer token mutations need. */
  token: string;
  /** Bodies larger than this are refused with 413 (bytes). */
  bodyLimit: number;
  /** Open connections are capped at this (see capConnections, defaultMaxConnections); default: no cap. */
  maxConnections?: number;
  /** Replaces some of defaultTimeouts (tests shorten them). */
  timeouts?: Partial<HttpTimeouts>;
}

const unauthorizedMessage = 'this request needs Authorization: Bearer <token> (CESAR_API_TOKEN, or the api-token file in CESAR_HOME)';

/**
 * The one HTTP layer of cesar (the API; later the dashboard): Fastify with valibot route schemas,
 * JSON bodies, the documented error shape `{"error": {"code", "message", "field"?}}` for every
 * failure (404 and 405 included), the bearer token on routes marked `config: { mutation: true }`,
 * and a debug log line per request. Fastify's own logger stays off: cesar's Logger does the logging.
 */
export function createHttpApp(options: HttpAppOptions): HttpApp {
  const { log, bodyLimit, name } = options;
  const timeouts = { ...defaultTimeouts, ...options.timeouts };
  const app = Fastify({
    logger: false,
    bodyLimit,
    // Node's HTTP server options: the headers timeout, and how often the headers and request
    // timeouts are checked (Node's default, 30 s, would let a silent client stay 30 s past them).
    http: { headersTimeout: timeouts.headers, connectionsCheckingInterval: timeouts.check },
    requestTimeout: timeouts.request,
    keepAliveTimeout: timeouts.keepAlive,
    connectionTimeout: timeouts.idle,
    routerOptions: { querystringParser: parseQuery },
    // HEAD answers only where a route declares it: the routes are exactly the documented ones.
    exposeHeadRoutes: false,
    // During a graceful stop, requests on open connections are still answered in the documented shape.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    clientErrorHandler: (err, socket) => answerMalformedRequest(err, socket, log, name),
    // A path that is not valid percent-encoding, or a parameter over the length limit: Fastify answers these before routing.
    frameworkErrors: (err, _request, reply: FastifyReply) => {
      const refusal =
        err.code === 'FST_ERR_BAD_URL'
          ? new HttpError(
              400,
              'invalid_input',
              'the path is not valid percent-encoded UTF-8; encode it as UTF-8, then percent-encode it',
              'path',
            )
          : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? new HttpError(414, 'uri_too_long', 'a path segment is over 100 characters', 'path')
            : err;
      const { statusCode, body } = errorAnswer(refusal, { log, name, bodyLimit });
      reply.code(statusCode).send(body);
    },
  }).withTypeProvider<ValibotTypeProvider>();
  if (options.maxConnections !== undefined) capConnections(app.server, options.maxConnections);

  const routes = collectRoutes(app);
  app.setValidatorCompiler(valibotValidatorCompiler);

  // A body must be UTF-8 JSON (415 otherwise); an empty one counts as none, so body-less POSTs work
  // whatever their Content-Type. Routes without a body schema ignore a JSON body; unknown routes any body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      const raw = body as Buffer;
      if (raw.length === 0 || request.is404) return done(null, undefined);
      const text = bodyText(request.headers['content-type'], raw);
      if (request.routeOptions.schema?.body === undefined) return done(null, undefined);
      done(null, parseJson(text));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.mutation && !bearerMatches(request.headers.authorization, options.token)) {
      throw new HttpError(401, 'unauthorized', unauthorizedMessage);
    }
  });
  app.addHook('preValidation', async (request) => {
    checkText(request.params, 'params');
    checkQuery(request.query);
    checkText(request.body, 'body');
    // No body (or an empty one, whatever its Content-Type): nothing came out of the parser.
    if (request.routeOptions.schema?.body !== undefined && request.body === undefined) {
      if (!request.routeOptions.config.optionalBody) throw new HttpError(400, 'invalid_json', 'the body is empty; send a JSON object');
      request.body = {};
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    log.debug(`${request.method} ${request.url} ${reply.statusCode} ${reply.elapsedTime.toFixed(1)} ms`);
  });

  app.setNotFoundHandler(async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    const allowed = routes.methodsFor(path);
    if (allowed.length === 0) throw new HttpError(404, 'not_found', `no route ${path}`);
    reply.header('Allow', allowed.join(', '));
    throw new HttpError(405, 'method_not_allowed', `${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}`);
  });

  app.setErrorHandler(async (err, _request, reply) => {
    const { statusCode, body } = errorAnswer(err, { log, name, bodyLimit });
    return reply.code(statusCode).send(body);
  });
  return app;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') throw new HttpError(400, 'invalid_json', 'the body is empty; send a JSON object');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * A request Node's HTTP parser refused, or that timed out: answer it in the documented shape, then
 * destroy the connection (never half-close it: a client that does not read would keep it open).
 */
function answerMalformedRequest(err: NodeJS.ErrnoException, socket: Socket, log: Logger, name: string): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) {
    socket.destroy();
    return;
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') log.warn(`${name}: a request did not arrive in time (408); connection closed`);
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? ['408 Request Timeout', 'request_timeout', 'the request took too long to arrive']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? ['431 Request Header Fields Too Large', 'headers_too_large', 'the request headers are too large']
        : ['400 Bad Request', 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

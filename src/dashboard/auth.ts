import type { FastifyRequest } from 'fastify';
import { bearerMatches } from '../auth/token.js';
import type { HttpApp } from '../http/app.js';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../log.js';
import { loginBody } from './schemas.js';
import { cookieValue, type Session, type SessionStore, sessionCookie, sessionCookieHeader } from './sessions.js';

/**
 * Signing in to the dashboard: the operator gives the API token once; the server compares it in
 * constant time and answers with an HttpOnly, SameSite=Strict cookie holding a session id (never
 * the token). Every state-changing request also needs the header X-Cesar-Dashboard: 1, which a
 * cross-site form cannot send, and, when the browser names its Origin, this server's own origin.
 */

export const csrfHeader = 'x-cesar-dashboard';

export interface AuthOptions {
  token: string;
  sessions: SessionStore;
  /** How long a session lasts (the cookie's Max-Age). */
  sessionTtlMs: number;
  log: Logger;
}

/** Refuse a state-changing request that a page of another site could have sent. */
export function checkSameOrigin(request: FastifyRequest): void {
  if (request.headers[csrfHeader] !== '1') {
    throw new HttpError(403, 'forbidden', 'dashboard actions need the header X-Cesar-Dashboard: 1 (the dashboard page sends it)');
  }
  // Browsers send Origin with every POST; "null" (a sandboxed frame, a file) is no host of ours either.
  const origin = request.headers.origin;
  if (origin !== undefined && !sameHost(origin, request.headers.host)) {
    throw new HttpError(403, 'forbidden', 'this request comes from another site');
  }
}

/** Origin and Host name the same host and port (the Host header read with the origin's scheme, so default ports compare equal). */
function sameHost(origin: string, host: string | undefined): boolean {
  try {
    const from = new URL(origin);
    return host !== undefined && from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** The session of a request, or undefined. */
export function sessionOf(request: FastifyRequest, sessions: SessionStore): Session | undefined {
  return sessions.find(cookieValue(request.headers.cookie, sessionCookie));
}

/** The label of the signed-in operator behind an action (401 without a live session, 403 from another site). */
export function requireActor(request: FastifyRequest, sessions: SessionStore): string {
  const session = sessionOf(request, sessions);
  if (!session) throw new HttpError(401, 'unauthorized', 'sign in with the API token first (or again: the session has ended)');
  checkSameOrigin(request);
  return session.label;
}

/** Wrong tokens one client address may send per minute; past them its sign-ins are refused until the minute is over. */
export const maxWrongTokensPerMinute = 10;

/** Counts wrong tokens per client address, so that a token set by hand (CESAR_API_TOKEN) cannot be guessed at speed. */
class WrongTokens {
  private readonly byAddress = new Map<string, { count: number; since: number }>();

  blocked(address: string): boolean {
    const entry = this.byAddress.get(address);
    return entry !== undefined && Date.now() - entry.since < 60_000 && entry.count >= maxWrongTokensPerMinute;
  }

  add(address: string): void {
    const now = Date.now();
    const entry = this.byAddress.get(address);
    if (entry && now - entry.since < 60_000) entry.count += 1;
    else this.byAddress.set(address, { count: 1, since: now });
    // Bounded memory whatever the number of addresses: forget the minutes that are over.
    if (this.byAddress.size > 10_000) for (const [a, e] of this.byAddress) if (now - e.since >= 60_000) this.byAddress.delete(a);
  }
}

/** GET /dashboard-api/session, POST /dashboard-api/login and POST /dashboard-api/logout. */
export function registerSessionRoutes(app: HttpApp, options: AuthOptions): void {
  const { sessions, log } = options;
  const maxAgeSeconds = Math.floor(options.sessionTtlMs / 1000);
  const wrongTokens = new WrongTokens();

  app.get('/dashboard-api/session', async (request) => {
    const session = sessionOf(request, sessions);
    return session
      ? { signed_in: true, label: session.label, expires_at: new Date(session.expiresAt).toISOString() }
      : { signed_in: false, label: null, expires_at: null };
  });

  app.post('/dashboard-api/login', { schema: { body: loginBody } }, async (request, reply) => {
    checkSameOrigin(request);
    if (wrongTokens.blocked(request.ip)) {
      throw new HttpError(429, 'too_many_requests', 'too many wrong tokens from this address; try again in a minute');
    }
    if (!bearerMatches(`Bearer ${request.body.token}`, options.token)) {
      wrongTokens.add(request.ip);
      log.warn(`Dashboard: a sign-in with a wrong token was refused (from ${request.ip})`);
      throw new HttpError(401, 'unauthorized', 'that is not the API token (CESAR_API_TOKEN, or the api-token file in CESAR_HOME)');
    }
    sessions.end(cookieValue(request.headers.cookie, sessionCookie));
    const { id, session } = sessions.create();
    log.info(`Dashboard: ${session.label} signed in (from ${request.ip})`);
    reply.header('set-cookie', sessionCookieHeader(id, maxAgeSeconds, request.protocol === 'https'));
    return { signed_in: true, label: session.label, expires_at: new Date(session.expiresAt).toISOString() };
  });

  app.post('/dashboard-api/logout', async (request, reply) => {
    checkSameOrigin(request);
    const id = cookieValue(request.headers.cookie, sessionCookie);
    const session = sessions.find(id);
    sessions.end(id);
    if (session) log.info(`Dashboard: ${session.label} signed out`);
    reply.header('set-cookie', sessionCookieHeader('', 0, request.protocol === 'https'));
    return { signed_in: false, label: null, expires_at: null };
  });
}

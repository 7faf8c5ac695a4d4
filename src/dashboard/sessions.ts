import { createHash, randomBytes } from 'node:crypto';

/**
 * Signed-in dashboard sessions, in this process's memory: the cookie holds a random session id,
 * never the API token. A restart signs everyone out, which is fine for an operator's console.
 */

export const sessionCookie = 'cesar_dashboard_session';

export interface Session {
  /** "dashboard session 1a2b3c4d": who did an action, in dashboard_actions and events. */
  label: string;
  expiresAt: number;
}

export class SessionStore {
  /** Keyed by the id's hash: a memory dump shows no usable cookie. */
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxSessions = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session: its id goes into the cookie. */
  create(): { id: string; session: Session } {
    this.prune();
    // Oldest first (insertion order): past the cap, the oldest session ends.
    if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const key = hash(id);
    const session = { label: `dashboard session ${key.slice(0, 8)}`, expiresAt: this.now() + this.ttlMs };
    this.sessions.set(key, session);
    return { id, session };
  }

  /** The live session of a cookie value, or undefined (unknown, malformed or expired). */
  find(id: string | undefined): Session | undefined {
    if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const key = hash(id);
    const session = this.sessions.get(key);
    if (session && session.expiresAt <= this.now()) {
      this.sessions.delete(key);
      return undefined;
    }
    return session;
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(hash(id));
  }

  private prune(): void {
    const now = this.now();
    for (const [key, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(key);
  }
}

function hash(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie header of a session (maxAgeSeconds 0 clears it). HttpOnly: page scripts never see it. */
export function sessionCookieHeader(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${sessionCookie}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

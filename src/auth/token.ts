import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { registerSecret } from '../mask.js';

export interface ApiToken {
  value: string;
  /** Where it came from, for the start-up log: never the token itself. */
  source: string;
}

/**
 * The bearer token that every API mutation needs: CESAR_API_TOKEN, or else the one in
 * CESAR_HOME/api-token, generated (mode 0600) on first use.
 */
export function loadApiToken(home: string, fromEnv: string | undefined): ApiToken {
  if (fromEnv) {
    registerSecret(fromEnv);
    return { value: fromEnv, source: 'CESAR_API_TOKEN' };
  }
  const file = path.join(home, 'api-token');
  fs.mkdirSync(home, { recursive: true, mode: 0o755 });
  try {
    fs.writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const value = fs.readFileSync(file, 'utf8').trim();
  registerSecret(value);
  return { value, source: file };
}

/** Constant-time comparison of an Authorization header with the token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

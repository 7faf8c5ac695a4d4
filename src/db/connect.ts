import type { Kysely } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import { CesarError, DatabaseError } from '../errors.js';
import type { Logger } from '../log.js';
import { maskUrl, registerSecret } from '../mask.js';
import { acquireEmbedded } from './embedded.js';
import type { Database } from './types.js';

/** bigint (int8) columns as numbers: ids and counts stay far below 2^53. numeric stays a string. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (value: string) => Number(value);
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid);
  },
};

export interface DatabaseHandle {
  /** Kysely over the pool, created on first use: importing kysely costs ~100 ms, which cron-called commands skip. */
  kysely(): Promise<Kysely<Database>>;
  readonly pool: pg.Pool;
  /** The full URL, password included: for connections of this process only (LISTEN). Never print it. */
  readonly url: string;
  /** The URL with its password masked, fit for printing. */
  readonly displayUrl: string;
  readonly embedded: boolean;
  readonly server: ServerInfo;
  close(): Promise<void>;
}

export interface ServerInfo {
  /** e.g. "PostgreSQL 18.4" or "CockroachDB CCL v24.1.0". */
  readonly version: string;
  readonly versionNum: number;
  readonly cockroach: boolean;
}

export interface OpenOptions {
  log: Logger;
  /** Create the database of DATABASE_URL when it does not exist (cesar migrate). */
  createIfMissing?: boolean;
  applicationName?: string;
}

/**
 * Open the database cesar works on: DATABASE_URL's server, or the embedded one of CESAR_HOME.
 * Connects once before returning, so an unreachable or misconfigured server fails here, mapped to
 * one clear DatabaseError.
 */
export async function openDatabase(config: Config, options: OpenOptions): Promise<DatabaseHandle> {
  let url = config.databaseUrl;
  let releaseEmbedded: (() => Promise<void>) | undefined;
  if (url === undefined) {
    const lease = await acquireEmbedded({ home: config.home, port: config.embeddedPort, log: options.log });
    url = lease.url;
    releaseEmbedded = () => lease.release();
  }
  try {
    const handle = await connect(url, config, options);
    return {
      ...handle,
      embedded: releaseEmbedded !== undefined,
      close: async () => {
        await handle.close();
        await releaseEmbedded?.();
      },
    };
  } catch (err) {
    await releaseEmbedded?.();
    throw err;
  }
}

/** A pool and Kysely instance over one URL, checked by a first query. */
export async function connect(
  url: string,
  config: Pick<Config, 'poolMax' | 'connectTimeoutSeconds'>,
  options: OpenOptions,
): Promise<Omit<DatabaseHandle, 'embedded'>> {
  registerSecret(safePassword(url));
  const displayUrl = maskUrl(url);
  const pool = createPool(url, config, options.applicationName ?? 'cesar');
  // Idle connections all break at once when the server goes: one line for them, not one each.
  let lastLost = 0;
  pool.on('error', (err) => {
    const now = Date.now();
    if (now - lastLost < 10_000) return;
    lastLost = now;
    options.log.warn(`database connection lost: ${err.message} (the next query reconnects)`);
  });
  let server: ServerInfo;
  try {
    server = await serverInfo(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    const mapped = connectionError(err, url);
    if (mapped.code === 'db_missing' && options.createIfMissing) {
      await createDatabase(url, config, options);
      return connect(url, config, { ...options, createIfMissing: false });
    }
    throw mapped;
  }
  if (!server.cockroach && server.versionNum < 130000) {
    options.log.warn(`${server.version} is older than PostgreSQL 13, the oldest version cesar supports`);
  }
  let db: Kysely<Database> | undefined;
  return {
    kysely: async () => {
      if (!db) {
        const { Kysely, PostgresDialect } = await import('kysely');
        db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
      }
      return db;
    },
    pool,
    url,
    displayUrl,
    server,
    close: async () => {
      // Kysely ends the pool only if it ever used it; end it ourselves in any case.
      await db?.destroy();
      if (!pool.ended) await pool.end();
    },
  };
}

export function createPool(url: string, config: Pick<Config, 'poolMax' | 'connectTimeoutSeconds'>, applicationName: string): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutSeconds * 1000,
    idleTimeoutMillis: 30_000,
    application_name: `${applicationName}:${process.pid}`,
    keepAlive: true,
    types,
  });
}

async function serverInfo(pool: pg.Pool): Promise<ServerInfo> {
  const { rows } = await pool.query<{ version: string; num: string }>(
    `SELECT version() AS version, current_setting('server_version_num') AS num`,
  );
  const full = rows[0]?.version ?? '';
  const cockroach = /cockroach/i.test(full);
  const version = cockroach ? (/CockroachDB \S+ v[\d.]+/.exec(full)?.[0] ?? full) : (/^PostgreSQL [\d.]+/.exec(full)?.[0] ?? full);
  return { version, versionNum: Number(rows[0]?.num ?? 0), cockroach };
}

async function createDatabase(url: string, config: Pick<Config, 'poolMax' | 'connectTimeoutSeconds'>, options: OpenOptions): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: config.connectTimeoutSeconds * 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    options.log.info(`Created database ${name}`);
  } catch (err) {
    if ((err as { code?: string }).code === '42P04') return; // created meanwhile by another cesar
    const mapped = connectionError(err, maintenance.toString());
    throw new DatabaseError(
      `database "${name}" does not exist and cesar could not create it: ${mapped.message}`,
      'db_missing',
      'create it (createdb) or use a role allowed to create databases',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

function safePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return undefined;
  }
}

/** Turn a pg or network error met while connecting into one line an operator can act on. */
export function connectionError(err: unknown, url: string): CesarError {
  if (err instanceof CesarError) return err;
  const e = err as { code?: string; message?: string };
  let where = 'the database';
  let user = '';
  let database = '';
  try {
    const u = new URL(url);
    where = `${u.hostname || 'localhost'}:${u.port || '5432'}`;
    user = decodeURIComponent(u.username);
    database = decodeURIComponent(u.pathname.slice(1));
  } catch {
    // keep the generic words
  }
  const message = e.message ?? String(err);
  switch (e.code) {
    case 'ECONNREFUSED':
      return new DatabaseError(
        `cannot reach the database at ${where}: connection refused`,
        'db_unreachable',
        'is PostgreSQL running there? check DATABASE_URL',
        { cause: err },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DatabaseError(
        `cannot reach the database: host of ${where} not found`,
        'db_unreachable',
        'check the host in DATABASE_URL',
        { cause: err },
      );
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new DatabaseError(
        `cannot reach the database at ${where}: ${e.code}`,
        'db_unreachable',
        'check the host and port in DATABASE_URL',
        { cause: err },
      );
    case '28P01':
      return new DatabaseError(
        `the database at ${where} refused user "${user}": wrong password`,
        'db_auth_failed',
        'check the user and password in DATABASE_URL',
        { cause: err },
      );
    case '28000':
      return new DatabaseError(
        `the database at ${where} refused user "${user}": ${message}`,
        'db_auth_failed',
        "check the user in DATABASE_URL and the server's pg_hba.conf",
        { cause: err },
      );
    case '3D000':
      return new DatabaseError(`database "${database}" does not exist on ${where}`, 'db_missing', 'run `cesar migrate`, which creates it', {
        cause: err,
      });
    case '57P03':
      return new DatabaseError(`the database at ${where} is starting up or shutting down`, 'db_unreachable', 'try again in a moment', {
        cause: err,
      });
    default:
      if (/timeout/i.test(message)) {
        return new DatabaseError(
          `cannot reach the database at ${where}: connection timed out`,
          'db_unreachable',
          'check the host and port in DATABASE_URL, or raise CESAR_DB_CONNECT_TIMEOUT',
          { cause: err },
        );
      }
      if (/password|SASL|SCRAM/i.test(message)) {
        return new DatabaseError(
          `the database at ${where} refused user "${user}": ${message}`,
          'db_auth_failed',
          'check the user and password in DATABASE_URL',
          { cause: err },
        );
      }
      return new DatabaseError(`cannot use the database at ${where}: ${message}`, 'db_unreachable', undefined, { cause: err });
  }
}

import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import { connect } from '../../src/db/connect.js';
import { silentLogger } from '../../src/log.js';

/** The server the test run prepared (test/run.mjs), and the migrated template each file clones. */
export const adminUrl = required('CESAR_TEST_ADMIN_URL');
const template = required('CESAR_TEST_TEMPLATE');
const prefix = required('CESAR_TEST_PREFIX');

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\` (test/run.mjs prepares the database)`);
  return value;
}

export function urlFor(database: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A database of its own: a clone of the migrated template, or empty with `{ migrated: false }`. */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const source = options.migrated === false ? 'template0' : template;
  await admin(async (client) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${name} TEMPLATE ${source}`);
        return;
      } catch (err) {
        // Another clone of the template is being made this instant.
        if ((err as { code?: string }).code !== '55006' || attempt > 20) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  });
  return {
    name,
    url: urlFor(name),
    drop: () =>
      admin(async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }),
  };
}

/** A name for a database that does not exist (cleaned up by the runner if a test creates it). */
export function freshDatabaseName(): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** The library's own connection (pool + Kysely) to a test database. */
export function openTestDatabase(url: string) {
  return connect(url, { poolMax: 4, connectTimeoutSeconds: 10 }, { log: silentLogger });
}

/** Run SQL on a test database (setting up a broken state, reading back facts). */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export type OpenTestDatabase = Awaited<ReturnType<typeof openTestDatabase>>;

export interface UsedTestDatabase {
  /** The database's URL (set once the suite's before() ran). */
  readonly url: string;
  readonly name: string;
  /** The library's connection to it: pool, kysely(), server. */
  readonly handle: OpenTestDatabase;
}

/**
 * A database of its own for the enclosing describe(): cloned from the migrated template and opened
 * before its tests, closed and dropped after them.
 */
export function useTestDatabase(options: { migrated?: boolean } = {}): UsedTestDatabase {
  let database: TestDatabase | undefined;
  let handle: OpenTestDatabase | undefined;
  before(async () => {
    database = await createTestDatabase(options);
    handle = await openTestDatabase(database.url);
  });
  after(async () => {
    await handle?.close();
    await database?.drop();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test database is made in before(): use it inside a test or hook');
    return value;
  };
  return {
    get url() {
      return ready(database).url;
    },
    get name() {
      return ready(database).name;
    },
    get handle() {
      return ready(handle);
    },
  };
}

/**
 * Give the five reference templates' steps the built-in canary handler, so that a test runs them in
 * milliseconds and without their integrations (Supabase, market data, Ollama).
 */
export async function makeTemplatesRunnable(url: string): Promise<void> {
  await sql(url, `UPDATE workflow_steps SET action = 'canary', config = '{}'`);
}

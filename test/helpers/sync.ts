import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { cesar } from './cli.js';
import { createTestDatabase, type TestDatabase } from './db.js';

/** Two real databases for the sync: a migrated cesar database here, and one standing for Supabase. */
export interface SyncPair {
  local: TestDatabase;
  remote: TestDatabase;
  /** What a `cesar sync ...` process needs to sync the two, with no safety lag. */
  env: Record<string, string>;
}

/**
 * A sync pair for the enclosing describe(): made in before() (the remote prepared by `cesar sync
 * init` when `init`), dropped after it. Use its fields inside tests and later hooks.
 */
export function useSyncPair(options: { init?: boolean } = {}): SyncPair {
  const pair = {} as SyncPair;
  before(async () => {
    pair.local = await createTestDatabase();
    pair.remote = await createTestDatabase({ migrated: false });
    pair.env = { DATABASE_URL: pair.local.url, SUPABASE_DB_URL: pair.remote.url, CESAR_SYNC_SAFETY_LAG: '0s' };
    if (options.init) {
      const init = await cesar(['sync', 'init'], pair.env);
      assert.equal(init.exitCode, 0, init.stderr);
    }
  });
  after(async () => {
    await pair.local?.drop();
    await pair.remote?.drop();
  });
  return pair;
}

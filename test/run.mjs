#!/usr/bin/env node
// The test command (`npm test`): prepares one PostgreSQL server for the whole run, a migrated
// template database that each test file clones, runs the test files in parallel with node:test,
// and leaves nothing behind.
//   server: TEST_DATABASE_URL when set (any database on the server; we create ours beside it),
//           otherwise an embedded PostgreSQL in a temporary CESAR_HOME.
//   TEST_CONCURRENCY: test files at once (default 4).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { acquireEmbedded, migrate, silentLogger, createLogger } = await import('cesar');

let cleaned; // the one cleanup run (normal end, or a signal)
let testsChild;
const runId = `${process.pid}_${Date.now().toString(36)}`;
const prefix = `cesar_test_${runId}`;
const template = `${prefix}_template`;

// Ctrl-C or a CI timeout: stop the tests, then still drop the databases and stop the server.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    testsChild?.kill(signal);
    cleanup().finally(() => process.exit(130));
  });
}

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : listTests(path.join(root, 'test'));

let adminUrl;
let lease;
let home;
if (process.env.TEST_DATABASE_URL) {
  adminUrl = process.env.TEST_DATABASE_URL;
  console.log(`tests: PostgreSQL from TEST_DATABASE_URL`);
} else {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-test-home-'));
  fs.chmodSync(home, 0o755); // the OS user postgres must reach it when we run as root
  lease = await acquireEmbedded({
    home,
    port: 0,
    log: process.env.TEST_DEBUG ? createLogger({ level: 'debug', format: 'text', proc: 'test-run' }) : silentLogger,
    // Test data is thrown away: skip the durability work.
    serverSettings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
  });
  adminUrl = lease.url;
  console.log(`tests: embedded PostgreSQL in ${home}`);
}

const admin = new pg.Client({ connectionString: withDatabase(adminUrl, 'postgres') });
await admin.connect();
const { rows } = await admin.query('SHOW server_version');
console.log(`tests: server version ${rows[0].server_version}; ${files.length} test files`);

let exitCode = 1;
try {
  await admin.query(`CREATE DATABASE ${template}`);
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, template), max: 2 });
  pool.on('error', () => {}); // the cleanup below drops the template under an idle connection
  try {
    await migrate(pool, silentLogger);
  } catch (err) {
    console.error(`tests: migrating the template failed: ${err.message}`);
    throw err;
  } finally {
    await pool.end();
  }
  exitCode = await runTests();
} finally {
  await cleanup();
}
process.exit(exitCode);

function runTests() {
  const args = [
    '--import',
    'tsx',
    '--test',
    '--test-timeout=180000',
    `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 4}`,
    `--test-reporter=${process.env.TEST_REPORTER ?? 'spec'}`,
    ...files,
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      CESAR_TEST_ADMIN_URL: withDatabase(adminUrl, 'postgres'),
      CESAR_TEST_TEMPLATE: template,
      CESAR_TEST_PREFIX: prefix,
    },
  });
  testsChild = child;
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

function cleanup() {
  cleaned ??= doCleanup();
  return cleaned;
}

async function doCleanup() {
  try {
    const { rows: leftovers } = await admin.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${prefix}%`]);
    for (const { datname } of leftovers) {
      await admin
        .query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`)
        .catch((err) => console.error(`could not drop ${datname}: ${err.message}`));
    }
  } finally {
    await admin.end();
    // The run owns this server: stop it even if a leaked test process still holds a connection.
    if (lease) await lease.release({ force: true });
    if (home) fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(path.join(os.tmpdir(), `${prefix}_default_home`), { recursive: true, force: true });
  }
}

function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function listTests(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'helpers') found.push(...listTests(full));
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(path.relative(root, full));
  }
  return found.sort();
}

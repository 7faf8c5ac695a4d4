import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { cesar } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

const aaplCsv = [
  'Date,Open,High,Low,Close,Volume',
  '2026-11-30,237.1,240.25,236.5,239.87,41234567',
  '2026-12-01,239.9,241.005,238.1,240.5,38123456',
  '2026-12-02,240.45,242.75,239.3,242.123456,40987654',
].join('\r\n');

/** A local server speaking Stooq's CSV and Alpha Vantage's JSON, with the answers these tests need. */
function marketServer() {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const symbol = url.searchParams.get('s') ?? url.searchParams.get('symbol');
    if (url.pathname === '/q/d/l/' && symbol === 'aapl.us') {
      res.writeHead(200, { 'content-type': 'text/csv' }).end(`\ufeff${aaplCsv}\r\n`);
    } else if (url.pathname === '/q/d/l/') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('No data');
    } else if (url.pathname === '/query') {
      // Alpha Vantage's rate limit comes with HTTP 200.
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          Information:
            'Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans.',
        }),
      );
    } else res.writeHead(404).end('not found');
  });
  return { server, requests };
}

describe('cesar market fetch and cesar ingest status', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  const { server } = marketServer();
  before(async () => {
    db = await createTestDatabase();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    env = {
      DATABASE_URL: db.url,
      CESAR_MARKET_PROVIDER: 'stooq',
      CESAR_MARKET_URL: `http://127.0.0.1:${port}`,
    };
  });
  after(async () => {
    server.close();
    await db?.drop();
  });

  it('stores the bars of a symbol with data, exits 1 with one line for a symbol without, and logs both attempts', async () => {
    const run = await cesar(['market', 'fetch', 'aapl', 'MSFT', '--json'], env);
    assert.equal(run.exitCode, 1, run.stderr);
    assert.deepEqual(run.stderr.trim().split('\n'), [run.stderr.trim()], 'one line');
    assert.match(run.stderr, /^MSFT: no_data: /);
    const out = JSON.parse(run.stdout);
    assert.deepEqual(
      out.symbols.map((s: { symbol: string; ok: boolean; received: number; written: number }) => [s.symbol, s.ok, s.received, s.written]),
      [
        ['AAPL', true, 3, 3],
        ['MSFT', false, 0, 0],
      ],
    );
    const bars = await sql(
      db.url,
      `SELECT to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, bar_interval, open::text, high::text, close::text, volume::text
         FROM financial_data WHERE symbol = 'AAPL' AND source = 'stooq' ORDER BY observed_at`,
    );
    assert.deepEqual(bars.at(1), {
      day: '2026-12-01',
      bar_interval: '1d',
      open: '239.900000',
      high: '241.005000',
      close: '240.500000',
      volume: '38123456.0000',
    });
    assert.equal(bars.length, 3);
    const log = await sql(
      db.url,
      `SELECT subject, status, rows_ingested, error_class, payload_sha256 IS NOT NULL AS hashed, finished_at >= started_at AS timed
         FROM ingestion_log ORDER BY subject`,
    );
    assert.deepEqual(log, [
      { subject: 'AAPL', status: 'succeeded', rows_ingested: 3, error_class: null, hashed: true, timed: true },
      { subject: 'MSFT', status: 'failed', rows_ingested: 0, error_class: 'no_data', hashed: false, timed: true },
    ]);
    await sql(db.url, 'REFRESH MATERIALIZED VIEW mv_ingestion_errors');
    const view = await sql(db.url, 'SELECT source, error_class, errors::int, subjects::int FROM mv_ingestion_errors');
    assert.deepEqual(view, [{ source: 'stooq', error_class: 'no_data', errors: 1, subjects: 1 }]);
    const [status] = await sql(db.url, `SELECT status, last_result FROM sync_status WHERE system_name = 'financial_api'`);
    assert.equal(status?.status, 'ok', 'one symbol got data');
    assert.deepEqual(status?.last_result, { symbols: 2, received: 3, written: 3, failed: 1 });
  });

  it('fetching the same data again changes nothing stored, and the attempt is logged', async () => {
    const before = await sql(db.url, `SELECT id, xmin::text AS version, ingested_at FROM financial_data WHERE symbol = 'AAPL' ORDER BY id`);
    const again = await cesar(['market', 'fetch', 'AAPL', '--json'], env);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).symbols[0].written, 0);
    const after = await sql(db.url, `SELECT id, xmin::text AS version, ingested_at FROM financial_data WHERE symbol = 'AAPL' ORDER BY id`);
    assert.deepEqual(after, before);
    const [count] = await sql(db.url, `SELECT count(*)::int AS n FROM ingestion_log WHERE subject = 'AAPL' AND status = 'succeeded'`);
    assert.equal(count?.n, 2);
    const hashes = await sql(db.url, `SELECT DISTINCT payload_sha256 FROM ingestion_log WHERE subject = 'AAPL'`);
    assert.equal(hashes.length, 1, 'the same payload has the same hash');
  });

  it('ingest status shows attempts and failures per source', async () => {
    const status = await cesar(['ingest', 'status', '--json'], env);
    assert.equal(status.exitCode, 0, status.stderr);
    const body = JSON.parse(status.stdout);
    assert.equal(body.provider, 'stooq');
    assert.deepEqual(
      body.sources.map((s: { source: string; attempts_24h: number; failed_24h: number; rows_24h: number }) => [
        s.source,
        s.attempts_24h,
        s.failed_24h,
        s.rows_24h,
      ]),
      [['stooq', 3, 1, 3]],
    );
    assert.equal(body.failures[0].subject, 'MSFT');
    const text = await cesar(['ingest', 'status'], env);
    assert.match(text.stdout, /│ stooq\s+│ 3\s+│ 1\s+│ 3\s+│/);
  });

  it('refuses bad symbols and days with one line (exit 65), storing nothing', async () => {
    const [before] = await sql(db.url, 'SELECT count(*)::int AS n FROM ingestion_log');
    for (const args of [
      ['AAPL; DROP TABLE agents'],
      ["x' OR '1'='1"],
      ['AAPL', '--from', '2026-02-30'],
      ['AAPL', '--from', '2026-12-02', '--to', '2026-12-01'],
    ]) {
      const r = await cesar(['market', 'fetch', ...args], env);
      assert.equal(r.exitCode, 65, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const [after] = await sql(db.url, 'SELECT count(*)::int AS n FROM ingestion_log');
    assert.equal(after?.n, before?.n);
    const [agents] = await sql(db.url, 'SELECT count(*)::int AS n FROM agents');
    assert.equal(agents?.n, 48);
  });

  it('a rate limit sent with HTTP 200 is a failure classed rate_limited, and the API key is never printed or logged', async () => {
    const r = await cesar(['market', 'fetch', 'IBM'], {
      ...env,
      CESAR_MARKET_PROVIDER: 'alphavantage',
      ALPHAVANTAGE_API_KEY: 'sekretkey12345',
    });
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /^IBM: rate_limited: /);
    assert.doesNotMatch(r.stdout + r.stderr, /sekretkey12345/);
    const [logged] = await sql(db.url, `SELECT source, error_class, error FROM ingestion_log WHERE subject = 'IBM'`);
    assert.equal(logged?.source, 'alphavantage');
    assert.equal(logged?.error_class, 'rate_limited');
    assert.doesNotMatch(String(logged?.error), /sekretkey12345/);
  });

  it('an unknown provider setting is refused with one line (exit 78)', async () => {
    const r = await cesar(['market', 'fetch', 'AAPL'], { ...env, CESAR_MARKET_PROVIDER: 'bloomberg' });
    assert.equal(r.exitCode, 78);
    assert.match(r.stderr, /CESAR_MARKET_PROVIDER must be one of stooq, alphavantage, yahoo, csvdir; got "bloomberg"/);
  });
});

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { defaultLlmSettings, type LlmSettings } from '../../src/llm/settings.js';
import { defaultMarketSettings, type MarketSettings } from '../../src/market/settings.js';
import { cesar } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { closedPort, type OllamaStandIn, startOllamaStandIn } from '../helpers/ollama.js';
import { runWorkerUntil } from '../helpers/queue.js';

const days = 300;
/** About 420 calendar days ago at the New York open: the 300 weekdays end a few days ago, inside the first fetch's 450 days. */
const start = (Math.floor(Date.now() / 86_400_000) - 430) * 86_400 + 14.5 * 3_600;

/** A deterministic Yahoo chart v8 answer: `days` weekdays of a gently oscillating price. */
function chart(symbol: string, base: number): unknown {
  const timestamp: number[] = [];
  const close: number[] = [];
  for (let i = 0, t = start; timestamp.length < days; t += 86_400, i++) {
    const weekday = new Date(t * 1000).getUTCDay();
    if (weekday === 0 || weekday === 6) continue;
    timestamp.push(t);
    close.push(Math.round((base + 10 * Math.sin(i / 9) + i * 0.05) * 100) / 100);
  }
  return {
    chart: {
      result: [
        {
          meta: { symbol, exchangeTimezoneName: 'America/New_York', gmtoffset: -18000, dataGranularity: '1d' },
          timestamp,
          indicators: {
            quote: [
              {
                open: close.map((c) => c - 0.5),
                high: close.map((c) => c + 1),
                low: close.map((c) => c - 1),
                close,
                volume: close.map((_, i) => 1_000_000 + i),
              },
            ],
            adjclose: [{ adjclose: close }],
          },
        },
      ],
      error: null,
    },
  };
}

describe('the daily_financial_analysis workflow', () => {
  let db: TestDatabase;
  let settings: MarketSettings;
  let ollama: OllamaStandIn;
  let llm: LlmSettings;
  let failAll = false;
  const server = http.createServer((req, res) => {
    const symbol = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.split('/').at(-1) ?? '');
    if (failAll) return void res.writeHead(503).end('down for maintenance');
    const bases: Record<string, number> = { AAPL: 190, MSFT: 410, SPY: 560 };
    if (bases[symbol] === undefined) {
      return void res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ chart: { result: null, error: { code: 'Not Found', description: 'No data found, symbol may be delisted' } } }),
        );
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chart(symbol, bases[symbol]!)));
  });

  before(async () => {
    db = await createTestDatabase();
    ollama = await startOllamaStandIn();
    llm = { ...defaultLlmSettings, ollamaUrl: ollama.url, maxAttempts: 1 };
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    settings = {
      ...defaultMarketSettings,
      provider: 'yahoo',
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      maxAttempts: 1,
    };
    await sql(
      db.url,
      `UPDATE workflow_templates SET config = config || '{"symbols": ["AAPL", "MSFT", "SPY", "NOPE"]}' WHERE name = 'daily_financial_analysis'`,
    );
  });
  after(async () => {
    server.close();
    await ollama?.close();
    await db?.drop();
  });

  async function run(marketSettings: MarketSettings, llmSettings: LlmSettings = llm) {
    const started = await cesar(['workflows', 'run', 'daily_financial_analysis'], { DATABASE_URL: db.url });
    assert.equal(started.exitCode, 0, started.stderr);
    const id = Number(started.stdout.trim());
    const read = async () => (await sql(db.url, 'SELECT status, result, error FROM workflow_executions WHERE id = $1', [id]))[0]!;
    await runWorkerUntil(db.url, builtInJobTypes({ market: marketSettings, llm: llmSettings }), `execution ${id} to end`, async () =>
      ['succeeded', 'failed'].includes((await read()).status),
    );
    const steps = await sql(
      db.url,
      `SELECT r.name, r.status, r.reason, r.error, a.agent_type FROM workflow_step_runs r LEFT JOIN agents a ON a.id = r.agent_id
        WHERE r.execution_id = $1 ORDER BY r.step_order`,
      [id],
    );
    const row = await read();
    return { id, status: row.status as string, result: row.result as unknown, steps };
  }

  it('fetches, analyses, assesses risk and writes the report, each step by its agent; one symbol failing loses no other', async () => {
    const first = await run(settings);
    assert.equal(first.status, 'succeeded', JSON.stringify(first.steps));
    assert.deepEqual(
      first.steps.map((s) => [s.name, s.status, s.agent_type]),
      [
        ['fetch_market_data', 'succeeded', 'market_data'],
        ['analyze_portfolio', 'succeeded', 'financial_analyst'],
        ['assess_risk', 'succeeded', 'risk_analyst'],
        ['write_daily_report', 'succeeded', 'generator'],
      ],
    );
    const result = first.result as Record<string, Record<string, unknown>>;
    assert.deepEqual(
      [result.fetch_market_data!.received, result.fetch_market_data!.written, result.fetch_market_data!.failed],
      [3 * days, 3 * days, 1],
    );
    assert.equal(result.analyze_portfolio!.analysed, 3);
    const risk = result.assess_risk!;
    assert.deepEqual(risk.symbols, ['AAPL', 'MSFT', 'SPY']);
    assert.ok(typeof risk.var_1d === 'number' && risk.var_1d >= 0, JSON.stringify(risk));
    assert.equal(result.write_daily_report!.symbols, 3);
    assert.deepEqual(
      result.write_daily_report!.summary,
      { model: 'llama3.1:8b', cache: 'miss' },
      'the generator agent asked its model, through the cache',
    );
    const [cached] = await sql(db.url, `SELECT count(*)::int AS n FROM llm_cache WHERE model = 'llama3.1:8b'`);
    assert.equal(cached?.n, 1);

    const [failed] = await sql(db.url, `SELECT status, error_class FROM ingestion_log WHERE subject = 'NOPE'`);
    assert.deepEqual(failed, { status: 'failed', error_class: 'no_data' });
    const analyses = await sql(db.url, 'SELECT symbol, bars_used, as_of::text AS as_of FROM market_analysis ORDER BY symbol');
    assert.deepEqual(
      analyses.map((a) => [a.symbol, a.bars_used]),
      [
        ['AAPL', 300],
        ['MSFT', 300],
        ['SPY', 300],
      ],
    );
    const events = await sql(
      db.url,
      `SELECT a.agent_type, count(*)::int AS n FROM agent_events e JOIN agents a ON a.id = e.agent_id
        WHERE e.execution_id = $1 AND e.event_type = 'step.succeeded' GROUP BY a.agent_type ORDER BY a.agent_type`,
      [first.id],
    );
    assert.deepEqual(
      events.map((e) => e.agent_type),
      ['financial_analyst', 'generator', 'market_data', 'risk_analyst'],
    );

    const report = await cesar(['market', 'report', '--json'], { DATABASE_URL: db.url });
    assert.equal(report.exitCode, 0, report.stderr);
    const body = JSON.parse(report.stdout);
    assert.equal(body.execution_id, first.id);
    const [writer] = await sql(db.url, 'SELECT agent_type FROM agents WHERE name = $1', [body.agent]);
    assert.equal(writer?.agent_type, 'generator', 'a generator agent wrote it');
    assert.match(body.body, /^# Daily financial report, \d{4}-\d{2}-\d{2}$/m);
    assert.match(body.body, /^\| AAPL \| \d{4}-\d{2}-\d{2} \| \d+\.\d{2} \|/m);
    assert.match(body.body, /NOPE: .*No data found/);
    assert.match(body.body, /^## Summary \(llama3\.1:8b\)\n\nllama3\.1:8b says: /m);
    const text = await cesar(['market', 'report'], { DATABASE_URL: db.url });
    assert.equal(text.stdout, body.body.trimEnd());

    const show = await cesar(['market', 'show', 'aapl', '--json'], { DATABASE_URL: db.url, CESAR_MARKET_PROVIDER: 'yahoo' });
    assert.equal(show.exitCode, 0, show.stderr);
    const shown = JSON.parse(show.stdout);
    assert.equal(shown.bars.length, 10);
    assert.equal(shown.analysis.bars_used, 300);
    assert.equal(typeof shown.analysis.indicators.rsi, 'number');
  });

  it('running it again stores no second analysis of the same bars and rewrites the day’s report', async () => {
    const [bars] = await sql(db.url, 'SELECT count(*)::int AS n, max(ingested_at) AS newest FROM financial_data');
    // Ollama down this time: the report is the figures alone, and the step says why.
    const again = await run(settings, { ...llm, ollamaUrl: `http://127.0.0.1:${await closedPort()}` });
    assert.equal(again.status, 'succeeded', JSON.stringify(again.steps));
    const result = again.result as Record<string, Record<string, unknown>>;
    assert.equal(result.fetch_market_data!.written, 0, 'the same bars again change nothing');
    assert.match(String((result.write_daily_report!.summary as { skipped: string }).skipped), /Ollama is unreachable/);
    const report = JSON.parse((await cesar(['market', 'report', '--json'], { DATABASE_URL: db.url })).stdout);
    assert.doesNotMatch(report.body, /## Summary/);
    assert.deepEqual(
      (result.analyze_portfolio!.symbols as Array<{ new: boolean }>).map((s) => s.new),
      [false, false, false],
    );
    const [after] = await sql(db.url, 'SELECT count(*)::int AS n, max(ingested_at) AS newest FROM financial_data');
    assert.deepEqual(after, bars);
    const [counts] = await sql(
      db.url,
      'SELECT (SELECT count(*) FROM market_analysis)::int AS analyses, (SELECT count(*) FROM market_reports)::int AS reports',
    );
    assert.deepEqual(counts, { analyses: 3, reports: 1 });
  });

  it('fails the fetch step when every symbol failed, naming each, and the queue’s retries apply', async () => {
    failAll = true;
    try {
      const down = await run(settings);
      assert.equal(down.status, 'failed');
      const [fetch] = down.steps;
      assert.equal(fetch?.status, 'failed');
      assert.match(String(fetch?.error), /no market data for any symbol from yahoo: AAPL: .*HTTP 503/);
      assert.match(String(fetch?.error), /NOPE: /);
      const [job] = await sql(db.url, `SELECT attempts FROM job_queue WHERE payload->>'execution_id' = $1 AND payload->>'step' = '1'`, [
        String(down.id),
      ]);
      assert.equal(job?.attempts, 3);
      const [status] = await sql(db.url, `SELECT status FROM sync_status WHERE system_name = 'financial_api'`);
      assert.equal(status?.status, 'error');
    } finally {
      failAll = false;
    }
  });

  it('an unreachable provider is named once, for all the symbols it failed', async () => {
    const down = await run({ ...settings, baseUrl: `http://127.0.0.1:${await closedPort()}` });
    assert.equal(down.status, 'failed');
    assert.match(
      String(down.steps[0]?.error),
      /^no market data for any symbol from yahoo: AAPL, MSFT, SPY, NOPE: Yahoo is unreachable at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)[^;]*$/,
    );
  });

  it('a provider that is not configured ends the steps skipped with the line that says what to set', async () => {
    const other = await createTestDatabase();
    try {
      const started = await cesar(['workflows', 'run', 'daily_financial_analysis'], { DATABASE_URL: other.url });
      const id = Number(started.stdout.trim());
      const unset = { ...settings, provider: 'alphavantage' as const, alphaVantageKey: undefined };
      await runWorkerUntil(other.url, builtInJobTypes({ market: unset }), 'the execution to end', async () =>
        ['succeeded', 'failed'].includes((await sql(other.url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]))[0]!.status),
      );
      const steps = await sql(
        other.url,
        'SELECT name, status, reason FROM workflow_step_runs WHERE execution_id = $1 ORDER BY step_order',
        [id],
      );
      assert.deepEqual(
        steps.map((s) => s.status),
        ['skipped', 'skipped', 'skipped', 'skipped'],
      );
      assert.match(String(steps[0]!.reason), /ALPHAVANTAGE_API_KEY/);
      const [execution] = await sql(other.url, 'SELECT status FROM workflow_executions WHERE id = $1', [id]);
      assert.equal(execution?.status, 'succeeded');
    } finally {
      await other.drop();
    }
  });
});

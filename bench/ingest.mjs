#!/usr/bin/env node
// bench/ingest.mjs: market data ingestion (issue 14). A fixture server in a child process serves
// deterministic daily bars (--years × 252 weekdays per symbol, a seeded random walk, generated and
// cached before the clock starts) in Stooq's CSV or Yahoo's chart v8 JSON; the real provider
// (createProvider, so the real HTTP client and parser) and ingestSymbols store them in a freshly
// migrated database. Measured: (1) the full ingestion, (2) the same again (nothing changed: 0
// written), (3) fetch + parse without the database (and its two halves: HTTP alone, the parser
// alone on bodies in memory), (4) the indicators: analyzeSeries over each symbol's 300 stored bars,
// and analyseSymbol (read + compute + store) per symbol. Prints one JSON document.
//   node bench/ingest.mjs --database-url postgres://postgres@127.0.0.1:5432/postgres \
//     [--symbols 500] [--years 10] [--provider stooq|yahoo] [--concurrency 4]
// The server runs in a child process so that its CPU is not the client's (both still share the
// machine's cores with PostgreSQL); per phase, the CPU of the client, of the server and of the
// bench database's PostgreSQL backends is reported, with the WAL written (by the whole server).
import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { prng } from './prng.mjs';
import { processCpuMs } from './proc-cpu.mjs';
import { openThrowawayDatabase } from './throwaway-db.mjs';

const args = { symbols: 500, years: 10, provider: 'stooq', concurrency: 4, databaseUrl: process.env.DATABASE_URL, serve: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--database-url') args.databaseUrl = argv[++i];
  else if (argv[i] === '--symbols') args.symbols = Number(argv[++i]);
  else if (argv[i] === '--years') args.years = Number(argv[++i]);
  else if (argv[i] === '--provider') args.provider = argv[++i];
  else if (argv[i] === '--concurrency') args.concurrency = Number(argv[++i]);
  else if (argv[i] === '--serve') args.serve = true;
  else if (argv[i] !== '--json') {
    process.stderr.write(`unknown argument ${argv[i]}\n`);
    process.exit(64);
  }
}
if (!['stooq', 'yahoo'].includes(args.provider)) {
  process.stderr.write('--provider is stooq or yahoo\n');
  process.exit(64);
}
for (const name of ['symbols', 'years', 'concurrency']) {
  if (!Number.isInteger(args[name]) || args[name] < 1) {
    process.stderr.write(`--${name} must be a positive integer\n`);
    process.exit(64);
  }
}

/** The bench's symbols: B0000, B0001, ... (valid for every provider). */
const symbolNames = (n) => Array.from({ length: n }, (_, i) => `B${String(i).padStart(4, '0')}`);

if (args.serve) await serve();
else await main();

// ---------------------------------------------------------------------------------------------
// The fixture server (child process).

/** FNV-1a of the symbol: the seed of its prices. */
function seedOf(symbol) {
  let h = 0x811c9dc5;
  for (let i = 0; i < symbol.length; i++) h = Math.imul(h ^ symbol.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** `count` weekdays (YYYY-MM-DD) ending on Friday 2026-11-27, oldest first: fixed, so every run serves the same bars. */
function weekdays(count) {
  const days = [];
  for (let t = Date.UTC(2026, 10, 27); days.length < count; t -= 86_400_000) {
    const weekday = new Date(t).getUTCDay();
    if (weekday !== 0 && weekday !== 6) days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days.reverse();
}

/** A random walk of daily bars, prices with 2 decimals (stored exactly by numeric(20, 6)), integer volumes. */
function barsOf(symbol, days) {
  const random = prng(seedOf(symbol));
  const cents = (x) => Math.round(x * 100) / 100;
  let close = 20 + random() * 200;
  return days.map((day) => {
    const open = cents(close * (1 + (random() - 0.5) * 0.01));
    // The sum of three uniforms: roughly normal, about 1.5% a day.
    close = Math.max(1, cents(close * (1 + (random() + random() + random() - 1.5) * 0.03)));
    const high = cents(Math.max(open, close) * (1 + random() * 0.01));
    const low = cents(Math.min(open, close) * (1 - random() * 0.01));
    return { day, open, high, low, close, volume: Math.floor(100_000 + random() * 5_000_000) };
  });
}

function stooqBody(bars) {
  const lines = ['Date,Open,High,Low,Close,Volume'];
  for (const b of bars) lines.push(`${b.day},${b.open},${b.high},${b.low},${b.close},${b.volume}`);
  return `${lines.join('\r\n')}\r\n`;
}

function yahooBody(symbol, bars) {
  // 14:30 UTC: the New York open (09:30 EST, 10:30 EDT), the same calendar day either way.
  const timestamp = bars.map((b) => Date.parse(`${b.day}T14:30:00Z`) / 1000);
  const pick = (key) => bars.map((b) => b[key]);
  return JSON.stringify({
    chart: {
      result: [
        {
          meta: { currency: 'USD', symbol, exchangeName: 'NMS', exchangeTimezoneName: 'America/New_York', gmtoffset: -18000 },
          timestamp,
          indicators: {
            quote: [{ open: pick('open'), high: pick('high'), low: pick('low'), close: pick('close'), volume: pick('volume') }],
            adjclose: [{ adjclose: pick('close') }],
          },
        },
      ],
      error: null,
    },
  });
}

async function serve() {
  const days = weekdays(args.years * 252);
  const bodies = new Map();
  let bytes = 0;
  for (const symbol of symbolNames(args.symbols)) {
    const bars = barsOf(symbol, days);
    const body = Buffer.from(args.provider === 'stooq' ? stooqBody(bars) : yahooBody(symbol, bars));
    bodies.set(symbol, body);
    bytes += body.length;
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let symbol;
    if (url.pathname === '/q/d/l/') symbol = (url.searchParams.get('s') ?? '').replace(/\.us$/, '').toUpperCase();
    else if (url.pathname.startsWith('/v8/finance/chart/')) symbol = decodeURIComponent(url.pathname.slice('/v8/finance/chart/'.length));
    const body = symbol === undefined ? undefined : bodies.get(symbol);
    if (body) {
      res.writeHead(200, { 'content-type': args.provider === 'stooq' ? 'text/csv' : 'application/json', 'content-length': body.length });
      res.end(body);
    } else if (args.provider === 'stooq') res.writeHead(200, { 'content-type': 'text/plain' }).end('No data');
    else res.writeHead(404, { 'content-type': 'application/json' }).end('{"chart":{"result":null,"error":{"code":"Not Found"}}}');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send({ type: 'ready', port: server.address().port, bytes, bars_per_symbol: days.length });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// The client (parent process).

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function distribution(samples, digits = 1) {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x) => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits);
  return {
    median: round(quantile(sorted, 0.5)),
    p99: round(quantile(sorted, 0.99)),
    max: round(sorted.at(-1) ?? null),
  };
}

async function main() {
  if (!args.databaseUrl) {
    process.stderr.write('give --database-url\n');
    process.exit(64);
  }
  const { default: pg } = await import('pg');
  const { migrate, silentLogger } = await import('cesar');
  const { ingestSymbols } = await import('../dist/market/ingest.js');
  const { createProvider } = await import('../dist/market/providers/index.js');
  const { defaultMarketSettings } = await import('../dist/market/settings.js');
  const { finishBars, parseStooqCsv } = await import('../dist/market/providers/stooq-csv.js');
  const { parseYahooChart } = await import('../dist/market/providers/yahoo.js');
  const { analyzeSeries } = await import('../dist/market/indicators.js');
  const { analyseSymbol, barsAnalysed, recentBars } = await import('../dist/market/analysis.js');
  const { barsHash } = await import('../dist/market/indicator-hash.js');

  const loadAtStart = Math.round(os.loadavg()[0] * 100) / 100;
  const child = fork(
    fileURLToPath(import.meta.url),
    ['--serve', '--provider', args.provider, '--symbols', String(args.symbols), '--years', String(args.years)],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  const served = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the fixture server exited (${code})`)));
  });
  const base = `http://127.0.0.1:${served.port}`;
  const symbols = symbolNames(args.symbols);
  const provider = createProvider({ ...defaultMarketSettings, provider: args.provider, baseUrl: base, maxAttempts: 1, timeoutMs: 60_000 });

  const name = `cesar_bench_ingest_${process.pid}`;
  const bench = await openThrowawayDatabase(pg, args.databaseUrl, name, { poolMax: args.concurrency + 1 });
  const { admin, pool } = bench;

  const seconds = (ms) => Math.round(ms) / 1000;
  const perSecond = (n, ms) => Math.round(n / (ms / 1000));
  /** Wall time and CPU (client, fixture server, the bench's backends) of one phase, and the WAL written (by the whole server). */
  const measured = async (fn) => {
    const cpu0 = process.cpuUsage();
    const server0 = processCpuMs(child.pid);
    const backends0 = await bench.backendCpuMs();
    const wal0 = await bench.walMark();
    const started = performance.now();
    const result = await fn();
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const backends1 = await bench.backendCpuMs();
    const server1 = processCpuMs(child.pid);
    const walBytes = await bench.walBytesSince(wal0);
    return {
      ms,
      result,
      cpu_ms: {
        client: Math.round((cpu.user + cpu.system) / 1000),
        fixture_server: server0 === null || server1 === null ? null : Math.round(server1 - server0),
        postgres_backends: Math.round([...backends1].reduce((sum, [pid, ms]) => sum + ms - (backends0.get(pid) ?? 0), 0)),
      },
      wal_mb: Math.round(walBytes / 1e5) / 10,
    };
  };
  const ingestion = (m) => ({
    seconds: seconds(m.ms),
    bars: m.result.received,
    written: m.result.written,
    failed: m.result.failed,
    bars_per_second: perSecond(m.result.received, m.ms),
    symbols_per_second: Math.round((m.result.symbols.length / (m.ms / 1000)) * 10) / 10,
    cpu_ms: m.cpu_ms,
    wal_mb: m.wal_mb,
  });
  /** fn for each symbol, `concurrency` at once, as ingestSymbols does it. */
  const eachSymbol = async (fn) => {
    let next = 0;
    const out = new Array(symbols.length);
    const worker = async () => {
      while (next < symbols.length) {
        const i = next++;
        out[i] = await fn(symbols[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(args.concurrency, symbols.length) }, worker));
    return out;
  };

  try {
    const postgresVersion = (await admin.query('SHOW server_version')).rows[0].server_version;
    const migrateStarted = performance.now();
    await migrate(pool, silentLogger);
    const migrateMs = performance.now() - migrateStarted;

    // (1) and (2): the full ingestion into the fresh database, then the same again.
    const first = await measured(() => ingestSymbols(pool, provider, symbols, { concurrency: args.concurrency }));
    const again = await measured(() => ingestSymbols(pool, provider, symbols, { concurrency: args.concurrency }));
    if (first.result.failed > 0 || again.result.failed > 0) {
      const failure = [...first.result.symbols, ...again.result.symbols].find((s) => !s.ok);
      throw new Error(`${failure.symbol}: ${failure.error_class}: ${failure.error}`);
    }
    const { rows: sizes } = await pool.query(
      `SELECT count(*)::int AS rows, pg_total_relation_size('financial_data') AS bytes FROM financial_data`,
    );

    // (3) The provider's fetch + parse without the database; then its halves: HTTP alone, the parser alone.
    const fetchParse = await measured(async () => {
      const results = await eachSymbol((symbol) => provider.fetchDaily(symbol));
      return results.reduce((n, r) => n + r.bars.length, 0);
    });
    const httpOnly = await measured(async () => {
      const url =
        args.provider === 'stooq'
          ? (s) => `${base}/q/d/l/?s=${s.toLowerCase()}.us&i=d`
          : (s) => `${base}/v8/finance/chart/${s}?interval=1d&events=history&includeAdjustedClose=true`;
      return eachSymbol(async (symbol) => (await fetch(url(symbol))).text());
    });
    const bodies = httpOnly.result;
    const parse = (symbol, text) =>
      args.provider === 'stooq'
        ? finishBars(parseStooqCsv(text, { symbol, source: 'stooq', origin: 'Stooq' }), { origin: 'Stooq', symbol })
        : finishBars(parseYahooChart(text, symbol, 200), { origin: 'Yahoo', symbol });
    const parseUs = [];
    const parseStarted = performance.now();
    let parsedBars = 0;
    for (let i = 0; i < symbols.length; i++) {
      const t = performance.now();
      parsedBars += parse(symbols[i], bodies[i]).length;
      parseUs.push((performance.now() - t) * 1000);
    }
    const parseMs = performance.now() - parseStarted;

    // (4) The indicators. The inputs: each symbol's newest 300 stored bars, read as analyseSymbol reads them.
    const readUs = [];
    const inputs = [];
    for (const symbol of symbols) {
      const t = performance.now();
      inputs.push(await recentBars(pool, symbol, args.provider));
      readUs.push((performance.now() - t) * 1000);
    }
    const computeOnce = () =>
      inputs.map((bars) => {
        const t = performance.now();
        analyzeSeries(bars);
        return (performance.now() - t) * 1000;
      });
    const coldUs = computeOnce(); // the first pass, JIT warming up
    const warmUs = computeOnce();
    const hashUs = inputs.map((bars) => {
      const t = performance.now();
      barsHash(bars);
      return (performance.now() - t) * 1000;
    });
    const analyseMs = [];
    let analysedNew = 0;
    for (const symbol of symbols) {
      const t = performance.now();
      const r = await analyseSymbol(pool, symbol, args.provider, null);
      analyseMs.push(performance.now() - t);
      if (r.new) analysedNew++;
    }

    process.stdout.write(
      `${JSON.stringify(
        {
          provider: args.provider,
          symbols: args.symbols,
          years: args.years,
          bars_per_symbol: served.bars_per_symbol,
          concurrency: args.concurrency,
          payload_mb: Math.round(served.bytes / 1e5) / 10,
          node: process.version,
          postgres: postgresVersion,
          // Other work on the machine when the run started (1-minute load average; 2 cores).
          load_average_at_start: loadAtStart,
          migrate_seconds: seconds(migrateMs),
          ingest_first: ingestion(first),
          ingest_again: ingestion(again),
          financial_data: { rows: sizes[0].rows, mb: Math.round(Number(sizes[0].bytes) / 1e5) / 10 },
          fetch_parse: {
            seconds: seconds(fetchParse.ms),
            bars: fetchParse.result,
            bars_per_second: perSecond(fetchParse.result, fetchParse.ms),
            cpu_ms: fetchParse.cpu_ms,
          },
          http_only: {
            seconds: seconds(httpOnly.ms),
            mb_per_second: Math.round(served.bytes / 1e6 / (httpOnly.ms / 1000)),
            cpu_ms: httpOnly.cpu_ms,
          },
          parse_in_memory: {
            seconds: seconds(parseMs),
            bars: parsedBars,
            bars_per_second: perSecond(parsedBars, parseMs),
            us_per_symbol: distribution(parseUs, 0),
          },
          indicators: {
            bars_per_symbol: barsAnalysed,
            analyze_series_us: distribution(warmUs),
            analyze_series_first_pass_us: distribution(coldUs),
            bars_hash_us: distribution(hashUs),
            read_recent_bars_ms: distribution(
              readUs.map((us) => us / 1000),
              2,
            ),
            analyse_symbol_ms: { ...distribution(analyseMs, 2), total_seconds: seconds(analyseMs.reduce((a, b) => a + b, 0)) },
            analyses_stored: analysedNew,
          },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await bench.close();
    child.kill();
  }
}

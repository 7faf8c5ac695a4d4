import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type FetchResult, MarketDataError } from '../../src/market/bars.js';
import { parseRetryAfter, redactUrl, retryDelayMs } from '../../src/market/http.js';
import { chooseOutputSize } from '../../src/market/providers/alphavantage.js';
import { createProvider } from '../../src/market/providers/index.js';
import { stooqSymbol } from '../../src/market/providers/stooq.js';
import { parseStooqCsv } from '../../src/market/providers/stooq-csv.js';
import { parseYahooChart, plainDecimal } from '../../src/market/providers/yahoo.js';
import type { MarketSettings } from '../../src/market/settings.js';
import { root } from '../helpers/cli.js';

const fixtures = path.join(root, 'test', 'fixtures', 'market');
const apiKey = 'SECRETKEY123';

/**
 * A local stand-in for the providers: serves the fixtures by path and query in each provider's
 * wire format, records every request, and answers with a fault instead while one is set.
 */
type Fault = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

let server: http.Server;
let base: string;
let requests: string[] = [];
let fault: Fault | undefined;

function fixture(name: string): Buffer {
  return fs.readFileSync(path.join(fixtures, name));
}

interface Answer {
  status: number;
  body: string | Buffer;
  type: string;
}

function answer(req: http.IncomingMessage): Answer {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const json = (status: number, file: string): Answer => ({ status, body: fixture(file), type: 'application/json' });
  if (url.pathname === '/q/d/l/') {
    const files: Record<string, string> = {
      'aapl.us': 'stooq-aapl.csv',
      '^spx': 'stooq-spx-bom-crlf.csv',
      'nosuch.us': 'stooq-nodata.txt',
      'html.us': 'stooq-apikey.html',
    };
    const file = files[url.searchParams.get('s') ?? ''];
    if (file) return { status: 200, body: fixture(file), type: file.endsWith('.html') ? 'text/html' : 'text/csv' };
  }
  if (url.pathname === '/query') {
    const files: Record<string, string> = {
      IBM: 'alphavantage-ibm.json',
      BAD: 'alphavantage-error.json',
      NOTE: 'alphavantage-note.json',
      LIMIT: 'alphavantage-information-limit.json',
      PREMIUM: 'alphavantage-information-premium.json',
      EMPTY: 'alphavantage-empty.json',
    };
    const file = files[url.searchParams.get('symbol') ?? ''];
    // Alpha Vantage's daily-limit message quotes the caller's key.
    if (file)
      return {
        ...json(200, file),
        body: fixture(file)
          .toString()
          .replace('{{apikey}}', url.searchParams.get('apikey') ?? ''),
      };
  }
  if (url.pathname === '/v8/finance/chart/AAPL') return json(200, 'yahoo-aapl.json');
  if (url.pathname === '/v8/finance/chart/GONE') return json(404, 'yahoo-notfound.json');
  if (url.pathname === '/v8/finance/chart/ODD') return json(400, 'yahoo-bad-request.json');
  return { status: 404, body: 'not found', type: 'text/plain' };
}

/** Answer the first `times` requests with `status` (and headers), then let the fixtures answer. */
function failTimes(times: number, status: number, headers: Record<string, string> = {}): Fault {
  let left = times;
  return (_req, res) => {
    if (left-- <= 0) return false;
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(`fault ${status}`);
    return true;
  };
}

/** Never answer: the client's timeout has to end it. */
const hang: Fault = () => true;

function settings(overrides: Partial<MarketSettings> = {}): MarketSettings {
  return {
    provider: 'stooq',
    baseUrl: base,
    dir: undefined,
    stooqKey: undefined,
    alphaVantageKey: undefined,
    timeoutMs: 5_000,
    maxAttempts: 3,
    backoffMs: 1,
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<MarketDataError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof MarketDataError, `a MarketDataError, not ${String(err)}`);
    return err;
  }
  assert.fail('expected a MarketDataError');
}

const days = (result: FetchResult) => result.bars.map((bar) => bar.ts);

before(async () => {
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (fault?.(req, res)) return;
    const { status, body, type } = answer(req);
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  requests = [];
  fault = undefined;
});

describe('stooq', () => {
  it('parses the CSV: sorted, one bar per day (the later row wins), rows lacking a price skipped, an empty volume null', async () => {
    const result = await createProvider(settings()).fetchDaily('aapl');
    assert.deepEqual(requests, ['/q/d/l/?s=aapl.us&i=d']);
    assert.deepEqual(days(result), ['2024-01-02', '2024-01-03', '2024-01-04', '2024-01-08']);
    assert.deepEqual(result.bars[0], {
      symbol: 'AAPL',
      interval: '1d',
      ts: '2024-01-02',
      open: '187.15',
      high: '188.44',
      low: '183.885',
      close: '185.64',
      adj_close: null,
      volume: '82488674',
      source: 'stooq',
    });
    assert.equal(result.bars[2]?.volume, null);
    assert.equal(result.bars[3]?.close, '185.59');
    assert.equal(result.payload_sha256, createHash('sha256').update(fixture('stooq-aapl.csv')).digest('hex'));
    assert.equal(result.location, `${base}/q/d/l/?s=aapl.us&i=d`);
  });

  it('sends d1/d2 for a range and keeps only the bars within it', async () => {
    const result = await createProvider(settings()).fetchDaily('AAPL', { from: '2024-01-03', to: '2024-01-04' });
    assert.deepEqual(requests, ['/q/d/l/?s=aapl.us&i=d&d1=20240103&d2=20240104']);
    assert.deepEqual(days(result), ['2024-01-03', '2024-01-04']);
  });

  it('reads a CSV with a BOM, CRLF line ends and no Volume column (an index, asked without the .us suffix)', async () => {
    const result = await createProvider(settings()).fetchDaily('^SPX');
    assert.deepEqual(requests, ['/q/d/l/?s=%5Espx&i=d']);
    assert.deepEqual(days(result), ['2024-01-02', '2024-01-03']);
    assert.deepEqual([result.bars[0]?.symbol, result.bars[0]?.open, result.bars[0]?.volume], ['^SPX', '4745.2', null]);
  });

  it('"No data" is no_data; an HTML page is bad_format saying so', async () => {
    const none = await rejection(createProvider(settings()).fetchDaily('NOSUCH'));
    assert.equal(none.errorClass, 'no_data');
    const html = await rejection(createProvider(settings()).fetchDaily('HTML'));
    assert.equal(html.errorClass, 'bad_format');
    assert.match(html.message, /answered with an HTML page instead of CSV/);
    assert.equal(html.retryable, false);
  });

  it('symbols: US tickers get .us; a symbol with a market suffix or an index is kept', () => {
    assert.equal(stooqSymbol('AAPL'), 'aapl.us');
    assert.equal(stooqSymbol('BRK-B'), 'brk-b.us');
    assert.equal(stooqSymbol('VOD.UK'), 'vod.uk');
    assert.equal(stooqSymbol('^DJI'), '^dji');
  });

  it('a header without the price columns is bad_format; a row of N/A only is bad_format; a header alone is no_data', () => {
    const context = { symbol: 'X', source: 'stooq' as const, origin: 'Stooq' };
    assert.throws(
      () => parseStooqCsv('Foo,Bar\n1,2\n', context),
      (err: MarketDataError) => err.errorClass === 'bad_format',
    );
    assert.throws(
      () => parseStooqCsv('Date,Open,High,Low,Close\n2024-01-02,N/A,1,1,1\n', context),
      (err: MarketDataError) => err.errorClass === 'bad_format' && /none of the 1 rows/.test(err.message),
    );
    assert.throws(
      () => parseStooqCsv('Date,Open,High,Low,Close\r\n', context),
      (err: MarketDataError) => err.errorClass === 'no_data',
    );
  });
});

describe('alphavantage', () => {
  const av = (overrides: Partial<MarketSettings> = {}) =>
    createProvider(settings({ provider: 'alphavantage', alphaVantageKey: apiKey, ...overrides }));

  it('parses "Time Series (Daily)" newest first into sorted bars, skipping an entry that is not a decimal; the key stays out of location', async () => {
    const result = await av().fetchDaily('ibm');
    assert.equal(requests.length, 1);
    const sent = new URL(requests[0]!, base).searchParams;
    assert.deepEqual(Object.fromEntries(sent), {
      function: 'TIME_SERIES_DAILY',
      symbol: 'IBM',
      outputsize: 'compact',
      apikey: apiKey,
      datatype: 'json',
    });
    assert.deepEqual(days(result), ['2024-01-02', '2024-01-03', '2024-01-05']);
    assert.deepEqual(result.bars[2], {
      symbol: 'IBM',
      interval: '1d',
      ts: '2024-01-05',
      open: '162.4400',
      high: '162.9000',
      low: '160.5600',
      close: '160.8600',
      adj_close: null,
      volume: '4089256',
      source: 'alphavantage',
    });
    assert.ok(!result.location.includes(apiKey));
    assert.match(result.location, /apikey=\*\*\*/);
  });

  it('asks for outputsize=full only when `from` is further back than compact reaches', async () => {
    await av().fetchDaily('IBM', { from: '2024-01-02', to: '2024-01-05' });
    assert.match(requests[0]!, /outputsize=full/);
    assert.equal(chooseOutputSize(undefined, '2026-05-01'), 'compact');
    assert.equal(chooseOutputSize('2026-03-01', '2026-05-01'), 'compact');
    assert.equal(chooseOutputSize('2025-11-01', '2026-05-01'), 'full');
  });

  it('the errors that come with HTTP 200: Error Message, Note, Information (rate limit or premium), an empty series', async () => {
    const error = await rejection(av().fetchDaily('BAD'));
    assert.deepEqual([error.errorClass, error.retryable], ['api_error', false]);
    assert.match(error.message, /Invalid API call/);

    const note = await rejection(av().fetchDaily('NOTE'));
    assert.deepEqual([note.errorClass, note.retryable], ['rate_limited', true]);

    const limit = await rejection(av().fetchDaily('LIMIT'));
    assert.deepEqual([limit.errorClass, limit.retryable], ['rate_limited', true]);
    assert.match(limit.message, /25 requests per day/);
    assert.ok(!limit.message.includes(apiKey), limit.message);

    const premium = await rejection(av().fetchDaily('PREMIUM'));
    assert.deepEqual([premium.errorClass, premium.retryable], ['api_error', false]);
    assert.match(premium.message, /premium/);

    const empty = await rejection(av().fetchDaily('EMPTY'));
    assert.equal(empty.errorClass, 'no_data');
    assert.equal(requests.length, 5, 'a body error is not retried here');
  });

  it('without a key: not_configured naming ALPHAVANTAGE_API_KEY, and no request', async () => {
    const err = await rejection(av({ alphaVantageKey: undefined }).fetchDaily('IBM'));
    assert.equal(err.errorClass, 'not_configured');
    assert.match(err.message, /set ALPHAVANTAGE_API_KEY/);
    assert.equal(requests.length, 0);
  });

  it('the key never appears in an HTTP, timeout or connection error', async () => {
    fault = failTimes(9, 500);
    const status = await rejection(av().fetchDaily('IBM'));
    fault = hang;
    const timeout = await rejection(av({ timeoutMs: 50, maxAttempts: 1 }).fetchDaily('IBM'));
    fault = failTimes(9, 429);
    const limited = await rejection(av({ maxAttempts: 1 }).fetchDaily('IBM'));
    const refused = await rejection(av({ baseUrl: await closedPortUrl(), maxAttempts: 1 }).fetchDaily('IBM'));
    for (const err of [status, timeout, limited, refused]) {
      assert.ok(!err.message.includes(apiKey), err.message);
    }
    for (const err of [status, timeout, limited]) assert.match(err.message, /apikey=\*\*\*/);
  });
});

describe('yahoo', () => {
  const yahoo = (overrides: Partial<MarketSettings> = {}) => createProvider(settings({ provider: 'yahoo', ...overrides }));

  it('reads the chart: exchange days, entries with a null price skipped, a null volume kept as null, floats as shortest decimals', async () => {
    const result = await yahoo().fetchDaily('aapl', { from: '2024-01-02', to: '2024-01-05' });
    const sent = new URL(requests[0]!, base);
    assert.equal(sent.pathname, '/v8/finance/chart/AAPL');
    assert.deepEqual(Object.fromEntries(sent.searchParams), {
      period1: String(Date.parse('2024-01-01T00:00:00Z') / 1000),
      period2: String(Date.parse('2024-01-07T00:00:00Z') / 1000),
      interval: '1d',
      events: 'history',
      includeAdjustedClose: 'true',
    });
    assert.deepEqual(days(result), ['2024-01-02', '2024-01-03', '2024-01-04']);
    assert.deepEqual(result.bars[0], {
      symbol: 'AAPL',
      interval: '1d',
      ts: '2024-01-02',
      open: '187.14999389648438',
      high: '188.44000244140625',
      low: '183.88499450683594',
      close: '185.63999938964844',
      adj_close: '184.29042053222656',
      volume: '82488700',
      source: 'yahoo',
    });
    assert.equal(result.bars[2]?.volume, null);
  });

  it('chart.error: "No data found" (with HTTP 404) is no_data, after one request; another error is api_error', async () => {
    const gone = await rejection(yahoo().fetchDaily('GONE'));
    assert.equal(gone.errorClass, 'no_data');
    assert.match(gone.message, /No data found, symbol may be delisted/);
    assert.equal(requests.length, 1);
    const odd = await rejection(yahoo().fetchDaily('ODD'));
    assert.equal(odd.errorClass, 'api_error');
  });

  it('a timestamp is read as the day at the exchange (Sydney opens on the previous UTC day)', () => {
    const chart = (zone: Record<string, unknown>) =>
      JSON.stringify({
        chart: {
          result: [
            {
              meta: zone,
              timestamp: [Date.parse('2024-01-02T23:00:00Z') / 1000],
              indicators: { quote: [{ open: [1.5], high: [2], low: [1], close: [1.75], volume: [0] }] },
            },
          ],
          error: null,
        },
      });
    assert.equal(parseYahooChart(chart({ exchangeTimezoneName: 'Australia/Sydney', gmtoffset: 39600 }), 'BHP.AX')[0]?.ts, '2024-01-03');
    assert.equal(parseYahooChart(chart({ gmtoffset: 39600 }), 'BHP.AX')[0]?.ts, '2024-01-03');
    assert.equal(parseYahooChart(chart({}), 'BHP.AX')[0]?.adj_close, null);
  });

  it('an answer without timestamps is no_data; one that is not JSON is bad_format', () => {
    const empty = JSON.stringify({ chart: { result: [{ meta: {}, indicators: { quote: [{}] } }], error: null } });
    assert.throws(
      () => parseYahooChart(empty, 'X'),
      (err: MarketDataError) => err.errorClass === 'no_data',
    );
    assert.throws(
      () => parseYahooChart('<html><body>Will be right back</body></html>', 'X'),
      (err: MarketDataError) => {
        return err.errorClass === 'bad_format' && /HTML page/.test(err.message);
      },
    );
  });

  it('numbers render as their shortest round-trip decimal, never in exponent notation', () => {
    assert.equal(plainDecimal(185.63999938964844), '185.63999938964844');
    assert.equal(plainDecimal(0.1), '0.1');
    assert.equal(plainDecimal(1e-7), '0.0000001');
    assert.equal(plainDecimal(1.25e-7), '0.000000125');
    assert.equal(plainDecimal(-3.5e-9), '-0.0000000035');
    assert.equal(plainDecimal(1e21), '1000000000000000000000');
    assert.equal(plainDecimal(1.5e22), '15000000000000000000000');
    assert.equal(plainDecimal(123456789), '123456789');
  });
});

describe('csvdir', () => {
  const dir = path.join(fixtures, 'csvdir');
  const csvdir = (overrides: Partial<MarketSettings> = {}) => createProvider(settings({ provider: 'csvdir', dir, ...overrides }));

  it('reads {symbol}.csv whatever the case of its name; location is the path, the hash of the file bytes', async () => {
    const result = await csvdir().fetchDaily('aapl');
    assert.deepEqual(days(result), ['2024-01-02', '2024-01-03']);
    assert.equal(result.bars[0]?.source, 'csvdir');
    assert.equal(result.location, path.join(dir, 'AAPL.csv'));
    assert.equal(result.payload_sha256, createHash('sha256').update(fixture('csvdir/AAPL.csv')).digest('hex'));
  });

  it("reads Stooq's bulk file {symbol}.us.txt (dates YYYYMMDD), within [from, to]", async () => {
    const result = await csvdir().fetchDaily('MSFT', { from: '2024-01-03' });
    assert.deepEqual(days(result), ['2024-01-03', '2024-01-04']);
    assert.deepEqual([result.bars[0]?.open, result.bars[0]?.volume], ['369.01', '23083500']);
  });

  it('without CESAR_MARKET_DIR: not_configured; a missing folder: not_configured; no file: no_data naming the path', async () => {
    const unset = await rejection(csvdir({ dir: undefined }).fetchDaily('AAPL'));
    assert.equal(unset.errorClass, 'not_configured');
    assert.match(unset.message, /set CESAR_MARKET_DIR/);
    const missing = await rejection(csvdir({ dir: path.join(dir, 'nope') }).fetchDaily('AAPL'));
    assert.equal(missing.errorClass, 'not_configured');
    const none = await rejection(csvdir().fetchDaily('IBM'));
    assert.equal(none.errorClass, 'no_data');
    assert.ok(none.message.includes(path.join(dir, 'ibm.csv')), none.message);
  });
});

describe('HTTP: retries, timeouts, refused connections', () => {
  it('a 429 then success: retried, honouring Retry-After (0 s here, where the backoff would be 30 s)', { timeout: 10_000 }, async () => {
    fault = failTimes(1, 429, { 'retry-after': '0' });
    const result = await createProvider(settings({ backoffMs: 60_000 })).fetchDaily('AAPL');
    assert.equal(requests.length, 2);
    assert.equal(result.bars.length, 4);
  });

  it('a 429 on every attempt: rate_limited after maxAttempts requests', async () => {
    fault = failTimes(9, 429, { 'retry-after': 'Thu, 01 Jan 1970 00:00:00 GMT' });
    const err = await rejection(createProvider(settings()).fetchDaily('AAPL'));
    assert.deepEqual([err.errorClass, err.retryable], ['rate_limited', true]);
    assert.equal(requests.length, 3);
  });

  it('a 500 three times: http_error after maxAttempts (3) requests', async () => {
    fault = failTimes(3, 500);
    const err = await rejection(createProvider(settings()).fetchDaily('AAPL'));
    assert.deepEqual([err.errorClass, err.retryable], ['http_error', true]);
    assert.match(err.message, /HTTP 500/);
    assert.equal(requests.length, 3);
  });

  it('a 500 twice then success: the third attempt answers', async () => {
    fault = failTimes(2, 503);
    const result = await createProvider(settings()).fetchDaily('AAPL');
    assert.equal(result.bars.length, 4);
    assert.equal(requests.length, 3);
  });

  it('a 404: no retry, exactly one request', async () => {
    fault = failTimes(9, 404);
    const err = await rejection(createProvider(settings()).fetchDaily('AAPL'));
    assert.deepEqual([err.errorClass, err.retryable], ['http_error', false]);
    assert.match(err.message, /HTTP 404/);
    assert.equal(requests.length, 1);
  });

  it('a server that never answers: timeout, each attempt timed out', async () => {
    fault = hang;
    const err = await rejection(createProvider(settings({ timeoutMs: 100, maxAttempts: 2 })).fetchDaily('AAPL'));
    assert.deepEqual([err.errorClass, err.retryable], ['timeout', true]);
    assert.match(err.message, /no answer within 100 ms/);
    assert.equal(requests.length, 2);
  });

  it("the caller's signal ends the wait: still a MarketDataError", async () => {
    fault = hang;
    const controller = new AbortController();
    const pending = createProvider(settings()).fetchDaily('AAPL', { signal: controller.signal });
    while (requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    const err = await rejection(pending);
    assert.match(err.message, /cancelled/);
    assert.equal(requests.length, 1);
  });

  it('a refused connection: unreachable, naming host:port and ECONNREFUSED', async () => {
    const url = await closedPortUrl();
    const err = await rejection(createProvider(settings({ baseUrl: url })).fetchDaily('AAPL'));
    assert.deepEqual([err.errorClass, err.retryable], ['unreachable', true]);
    assert.ok(err.message.includes(new URL(url).host), err.message);
    assert.match(err.message, /ECONNREFUSED/);
  });

  it('Retry-After: seconds or an HTTP date; the wait is capped at 30 s; the backoff doubles with jitter', () => {
    const now = Date.parse('2024-01-02T00:00:00Z');
    assert.equal(parseRetryAfter('2', now), 2_000);
    assert.equal(parseRetryAfter('Tue, 02 Jan 2024 00:00:05 GMT', now), 5_000);
    assert.equal(parseRetryAfter('Mon, 01 Jan 2024 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(retryDelayMs(1, 100, 120_000), 30_000);
    assert.equal(retryDelayMs(1, 100, 0), 0);
    assert.deepEqual([retryDelayMs(1, 100, undefined, () => 0), retryDelayMs(1, 100, undefined, () => 1)], [50, 100]);
    assert.deepEqual([retryDelayMs(3, 100, undefined, () => 0), retryDelayMs(3, 100, undefined, () => 1)], [200, 400]);
    assert.equal(
      retryDelayMs(20, 100, undefined, () => 1),
      30_000,
    );
  });

  it('a base URL that is not a URL: not_configured, no request', async () => {
    const err = await rejection(createProvider(settings({ baseUrl: 'stooq.com' })).fetchDaily('AAPL'));
    assert.equal(err.errorClass, 'not_configured');
    assert.match(err.message, /CESAR_MARKET_URL/);
  });

  it('redactUrl hides every apikey= value, in any case', () => {
    assert.equal(redactUrl('http://h/query?apikey=abc&symbol=X'), 'http://h/query?apikey=***&symbol=X');
    assert.equal(redactUrl('http://h/?a=1&APIKEY=abc#x'), 'http://h/?a=1&APIKEY=***#x');
  });
});

/** The URL of a port that was listening a moment ago and is closed now. */
async function closedPortUrl(): Promise<string> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

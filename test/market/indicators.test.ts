import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ATR, BollingerBands, EMA, getLogReturns, getStandardDeviation, MACD, RSI, SMA } from 'trading-signals';
import type { DailyBar } from '../../src/market/bars.js';
import { barsHash } from '../../src/market/indicator-hash.js';
import {
  analyzeSeries,
  atr,
  bollinger,
  dayReturn,
  defaultIndicatorParameters,
  ema,
  emaSeries,
  type HighLowClose,
  macd,
  rsi,
  sma,
  trueRanges,
  volatility,
} from '../../src/market/indicators.js';

/**
 * A deterministic market: two cycles, a drift and pseudo-random noise (a fixed LCG), written as
 * decimal strings with 4 places like a provider's payload. Highs and lows straddle open and close
 * and sometimes gap from the previous close, so every branch of the true range is taken.
 */
function syntheticBars(count: number): DailyBar[] {
  let seed = 20240601;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 30 - 1; // [-1, 1)
  };
  const bars: DailyBar[] = [];
  let previousClose = 100;
  for (let i = 0; i < count; i++) {
    const close = 100 + 15 * Math.sin(i / 11) + 6 * Math.sin(i / 3.7) + 0.04 * i + 2 * noise();
    const open = previousClose + 1.5 * noise();
    const high = Math.max(open, close) + Math.abs(noise());
    const low = Math.min(open, close) - Math.abs(noise());
    const day = new Date(Date.UTC(2022, 0, 3) + i * 86_400_000).toISOString().slice(0, 10);
    bars.push({
      symbol: 'TEST',
      interval: '1d',
      ts: day,
      open: open.toFixed(4),
      high: high.toFixed(4),
      low: low.toFixed(4),
      close: close.toFixed(4),
      adj_close: close.toFixed(4),
      volume: String(1_000_000 + i * 37),
      source: 'csvdir',
    });
    previousClose = close;
  }
  return bars;
}

const bars = syntheticBars(600);
const closes = bars.map((bar) => Number(bar.close));
const candles: HighLowClose[] = bars.map((bar) => ({ high: Number(bar.high), low: Number(bar.low), close: Number(bar.close) }));

/** Within `relative` of the expected value (an absolute 1e-12 floor for values at 0). */
function assertClose(actual: number | null | undefined, expected: number | null | undefined, label: string, relative = 1e-9): void {
  assert.equal(typeof actual, 'number', `${label}: got ${actual}`);
  assert.equal(typeof expected, 'number', `${label}: reference ${expected}`);
  const a = actual as number;
  const e = expected as number;
  assert.ok(Math.abs(a - e) <= Math.max(relative * Math.abs(e), 1e-12), `${label}: ${a} vs ${e}`);
}

/** Our function on every prefix of the series against the reference's streaming results, nulls included. */
function assertEveryPoint<T>(
  ours: (prefixLength: number) => number | null,
  reference: (T | null)[],
  pick: (r: T) => number,
  label: string,
) {
  reference.forEach((expected, i) => {
    const actual = ours(i + 1);
    if (expected === null) assert.equal(actual, null, `${label} at ${i}: not enough data yet`);
    else assertClose(actual, pick(expected), `${label} at ${i}`);
  });
}

const same = (value: number) => value;

describe('indicators on a small series checked by hand', () => {
  it('day return, SMA and EMA', () => {
    assert.equal(dayReturn([100, 102]), 0.020000000000000018); // 102 / 100 − 1 in float64
    assertClose(dayReturn([50, 100, 102]), 0.02, 'day return');
    assert.equal(dayReturn([100]), null);
    assert.equal(dayReturn([]), null);
    assert.equal(sma([1, 2, 3, 4, 5], 3), 4);
    assert.equal(sma([1, 2], 3), null);
    // Seed mean(1, 2, 3) = 2 at index 2, α = 0.5: 4·0.5 + 2·0.5 = 3, then 5·0.5 + 3·0.5 = 4.
    assert.deepEqual(emaSeries([1, 2, 3, 4, 5], 3), [null, null, 2, 3, 4]);
    assert.equal(ema([1, 2, 3, 4, 5], 3), 4);
    assert.equal(ema([1, 2], 3), null);
  });

  it('volatility is the sample standard deviation of log returns, annualised by √252', () => {
    const result = volatility([100, 110, 99], 2);
    const daily = Math.abs(Math.log(1.1) - Math.log(0.9)) / Math.SQRT2;
    assertClose(result?.daily, daily, 'daily');
    assertClose(result?.annualized, daily * Math.sqrt(252), 'annualised');
    assert.equal(volatility([100, 110], 2), null, 'two returns need three closes');
    assert.throws(() => volatility([1, 2, 3], 1), RangeError);
  });

  it('true range: the first bar is high − low, later ones reach to the previous close', () => {
    const ranges = trueRanges([
      { high: 10, low: 8, close: 9 },
      { high: 12, low: 11, close: 11.5 }, // gap up: 12 − 9
      { high: 12, low: 8, close: 8 }, // wide day: 12 − 8
      { high: 6, low: 5.5, close: 6 }, // gap down: 8 − 5.5
    ]);
    assert.deepEqual(ranges, [2, 3, 4, 2.5]);
  });
});

// 600 days rather than 300: the EMAs (and so MACD) are seeded differently (see emaSeries), and the
// seed's weight (1 − α)^n must fall well below 1e-9 for the last values to agree, EMA(50) included.
describe('indicators against trading-signals on 600 synthetic days', () => {
  it('SMA(20), SMA(50), SMA(200) at every point', () => {
    for (const period of [20, 50, 200]) {
      const reference = new SMA(period).updates(closes);
      assertEveryPoint((n) => sma(closes.slice(0, n), period), reference, same, `SMA(${period})`);
    }
  });

  it("EMA follows trading-signals' recurrence exactly once both start from the same SMA seed", () => {
    for (const period of [12, 26, 50]) {
      const seed = sma(closes.slice(0, period), period)!;
      const reference = new EMA(period).updates([seed, ...closes.slice(period)]);
      const ours = emaSeries(closes, period).slice(period - 1);
      ours.forEach((value, i) => {
        assertClose(value, reference[i], `EMA(${period}) at ${i + period - 1}`);
      });
    }
  });

  it("EMA's last value matches trading-signals' first-value-seeded EMA once the seed has faded", () => {
    for (const period of [12, 26, 50]) {
      assertClose(ema(closes, period), new EMA(period).updates(closes).at(-1), `EMA(${period})`);
    }
    // On a short series the seeding shows: ours starts from the SMA, theirs from the first close.
    const short = closes.slice(0, 30);
    assert.notEqual(ema(short, 26), new EMA(26).updates(short).at(-1));
  });

  it("RSI(14) with Wilder's smoothing at every point", () => {
    const reference = new RSI(14).updates(closes);
    assert.equal(
      reference.findIndex((value) => value !== null),
      14,
      'the first RSI needs 15 closes',
    );
    assertEveryPoint((n) => rsi(closes.slice(0, n), 14), reference, same, 'RSI(14)');
  });

  it('MACD(12, 26, 9) at the last point', () => {
    const reference = new MACD(new EMA(12), new EMA(26), new EMA(9)).updates(closes).at(-1)!;
    const ours = macd(closes);
    assertClose(ours?.macd, reference.macd, 'macd');
    assertClose(ours?.signal, reference.signal, 'signal');
    assertClose(ours?.histogram, reference.histogram, 'histogram');
    assert.equal(macd(closes.slice(0, 33)), null, 'the signal needs 26 + 9 − 1 closes');
    assert.notEqual(macd(closes.slice(0, 34)), null);
  });

  it('Bollinger bands (20, 2) with the population standard deviation at every point', () => {
    const reference = new BollingerBands(20, 2).updates(closes);
    for (const band of ['middle', 'upper', 'lower'] as const) {
      assertEveryPoint(
        (n) => bollinger(closes.slice(0, n))?.[band] ?? null,
        reference,
        (r) => r[band],
        `Bollinger ${band}`,
      );
    }
  });

  it("ATR(14) with Wilder's smoothing at every point", () => {
    const reference = new ATR(14).updates(candles);
    assert.equal(
      reference.findIndex((value) => value !== null),
      13,
      'the first ATR needs 14 bars',
    );
    assertEveryPoint((n) => atr(candles.slice(0, n), 14), reference, same, 'ATR(14)');
  });

  it('volatility(20) against their log returns and population deviation rescaled to the sample one', () => {
    const logReturns = getLogReturns(closes.slice(-21));
    const sampleDeviation = getStandardDeviation(logReturns) * Math.sqrt(20 / 19);
    const result = volatility(closes, 20);
    assertClose(result?.daily, sampleDeviation, 'daily');
    assertClose(result?.annualized, sampleDeviation * Math.sqrt(252), 'annualised');
  });
});

describe('edge cases', () => {
  it('too few bars give null for every indicator', () => {
    const few = closes.slice(0, 14);
    assert.equal(rsi(few, 14), null);
    assert.equal(volatility(closes.slice(0, 20), 20), null);
    assert.equal(bollinger(closes.slice(0, 19)), null);
    assert.equal(atr(candles.slice(0, 13), 14), null);
    assert.equal(macd(few), null);
    assert.equal(sma([], 1), null);
    assert.equal(ema([], 1), null);
  });

  it('a constant series: RSI 100 (no losses), zero volatility, bands collapsed on the price, ATR of the daily range', () => {
    const flat = new Array<number>(40).fill(50);
    assert.equal(rsi(flat), 100);
    assert.equal(new RSI(14).updates(flat).at(-1), 100, 'trading-signals agrees');
    assert.deepEqual(volatility(flat), { daily: 0, annualized: 0 });
    assert.deepEqual(bollinger(flat), { middle: 50, upper: 50, lower: 50 });
    assert.deepEqual(macd(flat), { macd: 0, signal: 0, histogram: 0 });
    assert.equal(atr(flat.map(() => ({ high: 51, low: 49, close: 50 }))), 2);
  });

  it('only rising closes give RSI 100; a non-positive close has no volatility', () => {
    assert.equal(rsi(Array.from({ length: 20 }, (_, i) => 10 + i)), 100);
    assert.equal(volatility([1, 2, 0, 3], 3), null);
  });

  it('a period that is not a positive integer is refused', () => {
    assert.throws(() => sma(closes, 0), RangeError);
    assert.throws(() => ema(closes, 2.5), RangeError);
    assert.throws(() => rsi(closes, -1), RangeError);
  });
});

describe('analyzeSeries', () => {
  it('gathers the latest value of each indicator with the parameters, the bar count and the last day', () => {
    const analysis = analyzeSeries(bars);
    assert.equal(analysis.as_of, bars.at(-1)!.ts);
    assert.equal(analysis.bars_used, 600);
    assert.deepEqual(analysis.parameters, defaultIndicatorParameters);
    assert.equal(analysis.close, closes.at(-1));
    assert.equal(analysis.day_return, dayReturn(closes));
    assert.deepEqual(analysis.volatility, volatility(closes, 20));
    assert.deepEqual(analysis.sma, { '20': sma(closes, 20), '50': sma(closes, 50), '200': sma(closes, 200) });
    assert.deepEqual(analysis.ema, { '12': ema(closes, 12), '26': ema(closes, 26) });
    assert.equal(analysis.rsi, rsi(closes, 14));
    assert.deepEqual(analysis.macd, macd(closes, 12, 26, 9));
    assert.deepEqual(analysis.bollinger, bollinger(closes, 20, 2));
    assert.equal(analysis.atr, atr(candles, 14));
    assert.doesNotThrow(() => JSON.stringify(analysis));
  });

  it('sorts the bars by day first', () => {
    const shuffled = [...bars.slice(300)].reverse().concat(bars.slice(0, 300));
    assert.deepEqual(analyzeSeries(shuffled), analyzeSeries(bars));
  });

  it('leaves null what the bars do not allow', () => {
    const analysis = analyzeSeries(bars.slice(0, 30));
    assert.equal(analysis.sma['200'], null);
    assert.notEqual(analysis.sma['20'], null);
    assert.equal(analysis.macd, null);
    assert.notEqual(analysis.rsi, null);
    const empty = analyzeSeries([]);
    assert.equal(empty.as_of, null);
    assert.equal(empty.bars_used, 0);
    assert.equal(empty.close, null);
    assert.equal(empty.day_return, null);
    assert.equal(empty.atr, null);
  });

  it('refuses a price that is not a number', () => {
    const broken = bars.slice(0, 3).map((bar, i) => (i === 1 ? { ...bar, close: 'n/a' } : bar));
    assert.throws(() => analyzeSeries(broken), /close is not a number/);
  });
});

describe('barsHash', () => {
  const sample = bars.slice(0, 50);
  it('is a stable sha256 for the same bars, whatever their order', () => {
    const hash = barsHash(sample);
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(barsHash(sample.map((bar) => ({ ...bar }))), hash);
    assert.equal(barsHash([...sample].reverse()), hash);
  });

  it('changes when one price changes, or a bar is missing', () => {
    const hash = barsHash(sample);
    const changed = sample.map((bar, i) => (i === 10 ? { ...bar, close: (Number(bar.close) + 0.0001).toFixed(4) } : bar));
    assert.notEqual(barsHash(changed), hash);
    assert.notEqual(barsHash(sample.map((bar, i) => (i === 20 ? { ...bar, volume: null } : bar))), hash);
    assert.notEqual(barsHash(sample.slice(1)), hash);
  });

  it('writes numbers in their shortest decimal form, so a padded numeric column hashes the same', () => {
    const bar = sample[0]!;
    const plain = { ...bar, open: '12.5', high: '13', low: '0.25', close: '-0', adj_close: null, volume: '1000' };
    const padded = { ...plain, open: '12.5000', high: '+013.000', low: '.250', close: '0.00', volume: '1000.' };
    assert.equal(barsHash([padded]), barsHash([plain]));
    assert.notEqual(barsHash([{ ...plain, volume: '100' }]), barsHash([plain]));
  });
});

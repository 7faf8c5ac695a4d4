import { createHash } from 'node:crypto';
import type { DailyBar } from './bars.js';

/**
 * A plain decimal in its shortest form ("+0012.5000" → "12.5", "-0.0" → "0"), so the same bars
 * hash the same whether they come from a provider's payload or back from a numeric column that
 * pads the scale. Anything else (an exponent, text) is kept as given, trimmed.
 */
function canonicalDecimal(value: string | null): string {
  if (value === null) return '';
  const text = value.trim();
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[2] === '' && !match[3])) return text;
  const integer = match[2]!.replace(/^0+(?=\d)/, '') || '0';
  const fraction = (match[3] ?? '').replace(/0+$/, '');
  const digits = fraction ? `${integer}.${fraction}` : integer;
  return match[1] === '-' && /[1-9]/.test(digits) ? `-${digits}` : digits;
}

/**
 * sha256 (hex) of the bars as canonical text: one line per bar in ts order,
 * `ts,open,high,low,close,adj_close,volume\n`, numbers as canonicalDecimal writes them, a null
 * as an empty field. A stored analysis carries it to name exactly the data it was computed from.
 */
export function barsHash(bars: readonly DailyBar[]): string {
  const sorted = [...bars].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  const hash = createHash('sha256');
  for (const bar of sorted) {
    const prices = [bar.open, bar.high, bar.low, bar.close, bar.adj_close, bar.volume].map(canonicalDecimal);
    hash.update(`${bar.ts},${prices.join(',')}\n`);
  }
  return hash.digest('hex');
}

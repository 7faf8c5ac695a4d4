/**
 * Local files in Stooq's formats, for a machine without internet: CESAR_MARKET_DIR holds one file
 * per symbol, looked up in that folder only (not its subfolders), file names compared without
 * regard to case, first found of:
 *   {symbol}.csv      Stooq's download format (Date,Open,High,Low,Close[,Volume])
 *   {symbol}.us.txt   a file of Stooq's bulk download (<TICKER>,<PER>,<DATE>,...; dates YYYYMMDD)
 *   {symbol}.txt      the same for a symbol given with its market suffix (vod.uk) or an index
 * Parsing and row rules: stooq-csv.ts. payload_sha256 is of the file bytes; location is the path.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FetchDailyOptions, FetchResult, MarketDataProvider } from '../bars.js';
import { MarketDataError } from '../bars.js';
import type { MarketSettings } from '../settings.js';
import { finishBars, parseStooqCsv } from './stooq-csv.js';

/** The file names that may hold a symbol's bars, in order of preference (lower case). */
export function csvFileNames(symbol: string): string[] {
  const lower = symbol.trim().toLowerCase();
  return [`${lower}.csv`, `${lower}.us.txt`, `${lower}.txt`];
}

export function createCsvDirProvider(settings: MarketSettings): MarketDataProvider {
  return {
    name: 'csvdir',
    async fetchDaily(symbol: string, options: FetchDailyOptions = {}): Promise<FetchResult> {
      const dir = settings.dir;
      if (!dir) {
        throw new MarketDataError('not_configured', 'the csvdir provider reads CSV files from a folder: set CESAR_MARKET_DIR');
      }
      const upper = symbol.trim().toUpperCase();
      const file = await findFile(dir, upper);
      const bytes = await readFile(file, options.signal);
      const bars = parseStooqCsv(bytes.toString('utf8'), { symbol: upper, source: 'csvdir', origin: file });
      return {
        bars: finishBars(bars, { from: options.from, to: options.to, origin: file, symbol: upper }),
        payload_sha256: createHash('sha256').update(bytes).digest('hex'),
        location: file,
      };
    },
  };
}

async function findFile(dir: string, symbol: string): Promise<string> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new MarketDataError('not_configured', `CESAR_MARKET_DIR (${dir}) is not a readable folder (${reason})`, false, { cause: err });
  }
  const byLowerName = new Map(names.map((name) => [name.toLowerCase(), name]));
  const wanted = csvFileNames(symbol);
  for (const candidate of wanted) {
    const name = byLowerName.get(candidate);
    if (name !== undefined) return path.join(dir, name);
  }
  const others = wanted.slice(1).join(' or ');
  throw new MarketDataError('no_data', `no file for ${symbol}: looked for ${path.join(dir, wanted[0]!)} (or ${others}, any case)`);
}

async function readFile(file: string, signal: AbortSignal | undefined): Promise<Buffer> {
  try {
    return await fs.readFile(file, { signal });
  } catch (err) {
    if (signal?.aborted) throw new MarketDataError('timeout', `reading ${file} was cancelled`, true, { cause: signal.reason });
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new MarketDataError('unreachable', `cannot read ${file} (${reason})`, true, { cause: err });
  }
}

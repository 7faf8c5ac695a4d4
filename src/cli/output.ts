import { createRequire } from 'node:module';
import chalk from 'chalk';
import type TableType from 'cli-table3';

// cli-table3 and its dependencies load on the first table: `cesar enqueue` prints none.
let Table: typeof TableType | undefined;

/** A cli-table3 table; colour only where chalk allows it (TTY, no NO_COLOR, no --no-color). */
export function renderTable(head: string[], rows: Array<Array<string | number>>, indent = ''): string {
  Table ??= createRequire(import.meta.url)('cli-table3') as typeof TableType;
  const table = new Table({
    head: head.map((h) => chalk.bold(h)),
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const row of rows) table.push(row.map(String));
  return table
    .toString()
    .split('\n')
    .map((line) => indent + line)
    .join('\n');
}

export function printJson(out: (text: string) => void, value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

export const pass = (text: string): string => chalk.green(text);
export const fail = (text: string): string => chalk.red(text);
export const dim = (text: string): string => chalk.dim(text);

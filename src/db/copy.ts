import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Queryable } from './queryable.js';

/**
 * COPY through a connection (a pg client, not a pool: COPY holds the connection until it ends),
 * in the text format, whole buffers at a time: the sync moves pages of rows between two databases
 * this way, parsing nothing in between.
 */

/** Run `COPY (...) TO STDOUT` and answer everything it sent, in one buffer. */
export async function copyOut(client: Queryable, sql: string): Promise<Buffer> {
  const stream = (client as unknown as pg.ClientBase).query(copyTo(sql));
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Run `COPY ... FROM STDIN` with data (rows in COPY's text format), and answer how many rows it wrote. */
export async function copyIn(client: Queryable, sql: string, data: Buffer): Promise<number> {
  const stream = (client as unknown as pg.ClientBase).query(copyFrom(sql));
  await new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
    stream.end(data);
  });
  return stream.rowCount;
}

/** How many rows a buffer in COPY's text format holds: each ends with a newline, and newlines in values are escaped. */
export function copyRowCount(data: Buffer): number {
  let count = 0;
  for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, at + 1)) count++;
  return count;
}

/** The columns of the first row of a buffer in COPY's text format, as they are written there (escapes kept). */
export function copyFirstRow(data: Buffer): string[] {
  const end = data.indexOf(10);
  return data.toString('utf8', 0, end === -1 ? data.length : end).split('\t');
}

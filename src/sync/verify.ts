import type { Queryable } from '../db/queryable.js';
import { bucketKeysSql, bucketsSql, countRowsSql } from './queries.js';
import type { SyncedTable } from './tables.js';

/**
 * `cesar sync verify`: compare both sides without moving the data. Per table, every live row and
 * tombstone gives a key (sync_id and version); keys are bucketed by the first hex digits of the
 * sync_id, and each side answers a count and a digest per bucket. Only the buckets that differ are
 * listed key by key. Reads only: it never writes, and never deletes anything.
 */

export interface TableComparison {
  table: string;
  rows_here: number;
  rows_there: number;
  buckets: number;
  differing_buckets: number;
  /** Counts of sync_ids present only here, only there, or on both sides in different versions. */
  only_here: number;
  only_there: number;
  different: number;
  /** Up to `listLimit` sync_ids of each kind. */
  ids: { only_here: string[]; only_there: string[]; different: string[] };
}

const listLimit = 100;

export async function compareTable(local: Queryable, remote: Queryable, table: SyncedTable): Promise<TableComparison> {
  const [here, there] = await Promise.all([local, remote].map((q) => q.query<{ count: number }>({ text: countRowsSql(table) })));
  const rows = Math.max(here!.rows[0]!.count, there!.rows[0]!.count);
  // About 100 to 1,000 keys per bucket at most, so that a differing bucket is cheap to list.
  const digits = rows < 25_000 ? 2 : rows < 400_000 ? 3 : 4;
  const [a, b] = await Promise.all(
    [local, remote].map((q) => q.query<{ bucket: string; count: number; digest: string }>({ text: bucketsSql(table), values: [digits] })),
  );
  const digestsHere = new Map(a!.rows.map((r) => [r.bucket, r.digest]));
  const digestsThere = new Map(b!.rows.map((r) => [r.bucket, r.digest]));
  const differing = [...new Set([...digestsHere.keys(), ...digestsThere.keys()])].filter((k) => digestsHere.get(k) !== digestsThere.get(k));

  const result: TableComparison = {
    table: table.name,
    rows_here: here!.rows[0]!.count,
    rows_there: there!.rows[0]!.count,
    buckets: 16 ** digits,
    differing_buckets: differing.length,
    only_here: 0,
    only_there: 0,
    different: 0,
    ids: { only_here: [], only_there: [], different: [] },
  };
  for (let i = 0; i < differing.length; i += 256) {
    const chunk = differing.slice(i, i + 256);
    const [keysHere, keysThere] = await Promise.all(
      [local, remote].map(async (q) => {
        const { rows: keys } = await q.query<{ key: string }>({ text: bucketKeysSql(table), values: [digits, chunk] });
        return new Map(keys.map((k) => [k.key.slice(0, 36), k.key]));
      }),
    );
    for (const [id, key] of keysHere!) {
      const other = keysThere!.get(id);
      if (other === undefined) note(result, 'only_here', id);
      else if (other !== key) note(result, 'different', id);
    }
    for (const id of keysThere!.keys()) if (!keysHere!.has(id)) note(result, 'only_there', id);
  }
  return result;
}

function note(result: TableComparison, kind: 'only_here' | 'only_there' | 'different', id: string): void {
  result[kind]++;
  if (result.ids[kind].length < listLimit) result.ids[kind].push(id);
}

export function inSync(c: TableComparison): boolean {
  return c.differing_buckets === 0;
}

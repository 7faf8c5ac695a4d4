import { type RawBuilder, sql } from 'kysely';

/**
 * The cumulative bucket counts of a histogram, in SQL: `count(*) FILTER (WHERE d.seconds <= b)` for
 * each bound, as one array column. Read from a subquery `d` with a `seconds` column, in one pass, so
 * the buckets come from one snapshot and are monotonic.
 */
export function bucketCounts(bounds: number[]): RawBuilder<Array<number | string>> {
  return sql<Array<number | string>>`ARRAY[${sql.join(bounds.map((b) => sql`count(*) FILTER (WHERE d.seconds <= ${b}::float8)`))}]`;
}

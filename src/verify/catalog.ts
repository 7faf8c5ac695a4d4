import type pg from 'pg';

export interface IndexInfo {
  name: string;
  unique: boolean;
  columns: string[];
  /** The WHERE clause of a partial index, as PostgreSQL prints it. */
  predicate: string | null;
  hasExpressions: boolean;
}

/** The indexes of a table or materialized view in the current schema. */
export async function indexesOf(pool: pg.Pool, relation: string): Promise<IndexInfo[]> {
  const { rows } = await pool.query<{
    name: string;
    unique: boolean;
    columns: string[];
    predicate: string | null;
    has_expressions: boolean;
  }>(
    `SELECT i.relname AS name,
            ix.indisunique AS unique,
            ARRAY(SELECT a.attname::text
                    FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
                   ORDER BY k.ord) AS columns,
            pg_get_expr(ix.indpred, ix.indrelid) AS predicate,
            ix.indexprs IS NOT NULL AS has_expressions
       FROM pg_index ix
       JOIN pg_class i ON i.oid = ix.indexrelid
      WHERE ix.indrelid = to_regclass($1)`,
    [relation],
  );
  return rows.map((r) => ({
    name: r.name,
    unique: r.unique,
    columns: r.columns,
    predicate: r.predicate,
    hasExpressions: r.has_expressions,
  }));
}

/** Which of the given names exist as tables (or views) in the current schema search path. */
export async function existingRelations(pool: pg.Pool, names: readonly string[]): Promise<Set<string>> {
  const { rows } = await pool.query<{ name: string }>(`SELECT n AS name FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NOT NULL`, [
    names,
  ]);
  return new Set(rows.map((r) => r.name));
}

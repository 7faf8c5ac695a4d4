import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { createPool } from '../../src/db/connect.js';
import { maxNotifyPayloadBytes, notifyEvents } from '../../src/db/event-channel.js';
import { UsageError } from '../../src/errors.js';
import { type EventBus, openEventBus } from '../../src/events/bus.js';
import type { CesarEvent, EventSubscription, EventType } from '../../src/events/envelope.js';
import { fitNotify } from '../../src/events/postgres.js';
import type { Logger } from '../../src/log.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { memoryLogger, waitFor } from '../helpers/queue.js';
import { freePort } from '../helpers/redis.js';

const warnings = (log: { lines: string[] }) => log.lines.filter((l) => l.startsWith('WARN:'));

describe('the event bus on PostgreSQL NOTIFY', () => {
  const db = useTestDatabase();
  const open: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const o of open.reverse()) await o.close();
  });

  async function bus(log: Logger = memoryLogger()): Promise<EventBus> {
    const b = await openEventBus({ pool: db.handle.pool, databaseUrl: db.url, log });
    open.push(b);
    return b;
  }

  async function collect(b: EventBus, options: { types?: EventType[] } = {}) {
    const events: CesarEvent[] = [];
    const subscription: EventSubscription = await b.subscribe(options, (e) => events.push(e));
    open.push(subscription);
    return { events, subscription };
  }

  it('carries the exact envelope, in order, with "<ms>-<pid>-<seq>" ids; subscribers filter by type', async () => {
    const b = await bus();
    assert.equal(b.transport, 'postgres');
    const where = new URL(db.url);
    assert.equal(b.describe(), `PostgreSQL NOTIFY channel cesar_events on ${where.hostname}:${where.port || 5432}${where.pathname}`);
    assert.doesNotMatch(b.describe(), /postgres:|@/, 'no user or password');
    const all = await collect(b);
    const failed = await collect(b, { types: ['step.failed', 'execution.failed'] });
    const time = new Date('2026-01-02T03:04:05.678Z');
    const sent: Array<{ type: EventType; data: Record<string, unknown> }> = [];
    for (let n = 0; n < 30; n++) {
      const type: EventType = n % 3 === 0 ? 'step.failed' : 'step.succeeded';
      const data = { step: n, text: 'é ü 漢 "quoted"\n\u0000', nested: { list: [1, null, true] } };
      sent.push({ type, data });
      b.publish(type, data, time);
    }
    await b.flush();
    await waitFor('the 30 events', async () => all.events.length === 30);
    assert.deepEqual(
      all.events.map((e) => ({ type: e.type, data: e.data })),
      sent,
    );
    assert.ok(all.events.every((e) => e.time === time.toISOString()));
    const ids = all.events.map((e) => /^(\d+)-(\d+)-(\d+)$/.exec(e.id));
    assert.ok(
      ids.every((m) => m && Number(m[2]) === process.pid),
      all.events.map((e) => e.id).join(' '),
    );
    const sequence = ids.map((m) => Number(m![3]));
    assert.deepEqual(
      sequence,
      [...sequence].sort((x, y) => x - y),
    );
    assert.equal(new Set(sequence).size, 30);
    await waitFor('the step.failed events', async () => failed.events.length === 10);
    assert.deepEqual(
      failed.events.map((e) => e.data.step),
      [0, 3, 6, 9, 12, 15, 18, 21, 24, 27],
    );
    assert.deepEqual(b.stats(), { transport: 'postgres', published: 30, dropped: 0, connected: true });
  });

  it('refuses `since` and history: NOTIFY keeps none (set REDIS_URL)', async () => {
    const b = await bus();
    const refused = (err: unknown) => err instanceof UsageError && err.exitCode === 64 && /REDIS_URL/.test(err.hint ?? '');
    await assert.rejects(
      b.subscribe({ since: '1732550000000-0' }, () => undefined),
      refused,
    );
    await assert.rejects(b.history({ limit: 5 }), refused);
  });

  it('sends an envelope too large for NOTIFY with its data cut down to the marker, not dropped', async () => {
    const b = await bus();
    const seen = await collect(b);
    b.publish('job.failed', { job_id: 7, queue: 'default', attempt: 3, ok: false, error: 'x'.repeat(10_000) });
    // 3,000 characters but 9,000 bytes of UTF-8: the byte size counts, not the length.
    b.publish('sync.completed', { note: '€'.repeat(3000) });
    b.publish('job.succeeded', { job_id: 8 });
    await b.flush();
    await waitFor('the three events', async () => seen.events.length === 3);
    const [big, wide, small] = seen.events;
    assert.equal(big!.type, 'job.failed');
    assert.equal(big!.data.truncated, true);
    assert.ok(Number(big!.data.original_bytes) > 10_000);
    assert.deepEqual(
      { ...big!.data, original_bytes: 0 },
      { job_id: 7, queue: 'default', attempt: 3, ok: false, truncated: true, original_bytes: 0 },
    );
    assert.equal(wide!.data.truncated, true);
    assert.ok(Number(wide!.data.original_bytes) > 9000);
    assert.deepEqual(Object.keys(wide!.data).sort(), ['original_bytes', 'truncated']);
    assert.deepEqual(small!.data, { job_id: 8 });
    assert.deepEqual(b.stats(), { transport: 'postgres', published: 3, dropped: 0, connected: true });
  });

  it('cuts at the server’s own limit: a 7999-byte payload goes whole, an 8000-byte one is shrunk', async () => {
    await notifyEvents(db.handle.pool, ['x'.repeat(maxNotifyPayloadBytes)]);
    await assert.rejects(notifyEvents(db.handle.pool, ['x'.repeat(maxNotifyPayloadBytes + 1)]), /payload string too long/);
    const head = '{"id":"1-2-3","type":"job.failed","time":"2026-01-02T03:04:05.678Z","data":';
    const dataOf = (bytes: number) => {
      const filler = bytes - head.length - '{"text":""}'.length - 1;
      return { text: 'é'.repeat(filler / 2) + 'x'.repeat(filler % 2) };
    };
    for (const bytes of [maxNotifyPayloadBytes, maxNotifyPayloadBytes + 1]) {
      const data = dataOf(bytes);
      const payload = fitNotify(head, JSON.stringify(data), data);
      assert.equal(Buffer.byteLength(`${head}${JSON.stringify(data)}}`), bytes);
      assert.equal(JSON.parse(payload).data.truncated, bytes > maxNotifyPayloadBytes ? true : undefined);
      await notifyEvents(db.handle.pool, [payload]);
    }
  });

  it('does no JSON work in publish(), and drops (counting) data that is not JSON', async () => {
    const log = memoryLogger();
    const b = await bus(log);
    const seen = await collect(b);
    let serialized = 0;
    const data = {
      toJSON() {
        serialized += 1;
        return { counted: true };
      },
    };
    b.publish('view.refreshed', data);
    assert.equal(serialized, 0, 'publish() serializes nothing');
    b.publish('view.refreshed', { size: 10n });
    await b.flush();
    assert.equal(serialized, 1);
    await waitFor('the serializable event', async () => seen.events.length === 1);
    assert.deepEqual(seen.events[0]!.data, { counted: true });
    assert.deepEqual(b.stats(), { transport: 'postgres', published: 1, dropped: 1, connected: true });
    assert.equal(warnings(log).length, 1);
    assert.match(warnings(log)[0]!, /dropped a view\.refreshed event that cannot be serialized/);
  });

  it('sends outside the caller’s transaction: an open transaction does not hold the events back', async () => {
    const b = await bus();
    const seen = await collect(b);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1');
      b.publish('job.enqueued', { job_id: 42 });
      await b.flush();
      await waitFor('the event, while the transaction is still open', async () => seen.events.length === 1);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
    assert.deepEqual(seen.events[0]!.data, { job_id: 42 });
  });

  it('a subscriber whose connection is terminated reconnects, and later events arrive', async () => {
    const log = memoryLogger();
    const b = await bus(log);
    const seen = await collect(b);
    const killed = await sql<{ pid: number }>(
      db.url,
      `SELECT pg_terminate_backend(pid) AS killed, pid FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = $1`,
      [`cesar-events:${process.pid}`],
    );
    assert.ok(killed.length >= 1, 'the LISTEN connection was found');
    await waitFor('the LISTEN connection to be back', async () => log.lines.some((l) => l.includes('LISTEN cesar_events is back')));
    b.publish('execution.started', { execution_id: 1 });
    await b.flush();
    await waitFor('the event sent after the reconnection', async () => seen.events.length >= 1);
    assert.deepEqual(
      seen.events.map((e) => e.data),
      [{ execution_id: 1 }],
    );
    assert.equal(warnings(log).filter((l) => l.includes('connection lost')).length, 1, log.lines.join('\n'));
  });

  it('with the database unreachable, publishing drops and counts with one warning, and never throws', async () => {
    const port = await freePort();
    const pool = createPool(`postgres://postgres@127.0.0.1:${port}/nowhere`, { poolMax: 2, connectTimeoutSeconds: 2 }, 'test');
    pool.on('error', () => undefined);
    const log = memoryLogger();
    const b = await openEventBus({ pool, databaseUrl: db.url, log });
    try {
      for (let round = 0; round < 3; round++) {
        b.publish('job.started', { round });
        await b.flush();
      }
      assert.deepEqual(b.stats(), { transport: 'postgres', published: 0, dropped: 3, connected: false });
      assert.equal(warnings(log).length, 1, log.lines.join('\n'));
    } finally {
      await b.close();
      await pool.end();
    }
  });
});

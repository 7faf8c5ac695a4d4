import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { loadConfig } from '../../src/config.js';
import { CesarError, ConfigError, InputError } from '../../src/errors.js';
import { type EventBus, openEventBus } from '../../src/events/bus.js';
import type { CesarEvent, EventSubscription, EventType } from '../../src/events/envelope.js';
import type { Logger } from '../../src/log.js';
import { useTestDatabase } from '../helpers/db.js';
import { memoryLogger, waitFor } from '../helpers/queue.js';
import { freePort, type TestRedis, useTestRedis } from '../helpers/redis.js';

/** Each test its own stream, so that none sees another's events. */
let streams = 0;
const nextStream = () => `test:events:${++streams}`;

const warnings = (log: { lines: string[] }) => log.lines.filter((l) => l.startsWith('WARN:'));

describe('the event bus on a Redis stream', () => {
  const db = useTestDatabase();
  const server = useTestRedis();
  const open: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const o of open.reverse()) await o.close();
  });

  async function bus(options: { stream: string; log?: Logger; redis?: TestRedis; url?: string; readOnly?: boolean }): Promise<EventBus> {
    const b = await openEventBus({
      readOnly: options.readOnly,
      redisUrl: options.url ?? (options.redis ?? server.redis).url,
      pool: db.handle.pool,
      databaseUrl: db.url,
      log: options.log ?? memoryLogger(),
      stream: options.stream,
      maxLen: 1000,
    });
    open.push(b);
    return b;
  }

  async function collect(b: EventBus, options: { since?: string; types?: EventType[] } = {}) {
    const events: CesarEvent[] = [];
    const subscription: EventSubscription = await b.subscribe(options, (e) => events.push(e));
    open.push(subscription);
    return { events, subscription };
  }

  it('carries the exact envelope, in order, the entry id as its id; subscribers filter by type', async () => {
    const stream = nextStream();
    const b = await bus({ stream });
    const all = await collect(b);
    const failed = await collect(b, { types: ['job.failed'] });
    const time = new Date('2026-01-02T03:04:05.678Z');
    const sent: Array<{ type: EventType; data: Record<string, unknown> }> = [];
    for (let n = 0; n < 30; n++) {
      const type: EventType = n % 3 === 0 ? 'job.failed' : 'job.succeeded';
      const data = { job_id: n, queue: 'default', text: 'é ü 漢 "quoted"\n', nested: { list: [1, null, true] } };
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
    assert.ok(all.events.every((e) => /^\d+-\d+$/.test(e.id)));
    await waitFor('the job.failed events', async () => failed.events.length === 10);
    assert.deepEqual(
      failed.events.map((e) => e.data.job_id),
      [0, 3, 6, 9, 12, 15, 18, 21, 24, 27],
    );

    // What Redis holds: the entry ids are the events' ids, the fields rebuild the envelope.
    const raw = createClient({ url: server.redis.url });
    await raw.connect();
    try {
      const entries = await raw.xRange(stream, '-', '+');
      assert.deepEqual(
        entries.map((e) => e.id),
        all.events.map((e) => e.id),
      );
      assert.deepEqual(
        { ...entries[0]?.message },
        {
          type: 'job.failed',
          time: time.toISOString(),
          data: JSON.stringify(sent[0]!.data),
        },
      );
    } finally {
      await raw.close();
    }
    assert.deepEqual(b.stats(), { transport: 'redis', published: 30, dropped: 0, connected: true });
  });

  it('gives back the newest events, or exactly those after an id, and a subscription resumes after an id', async () => {
    const b = await bus({ stream: nextStream() });
    for (let n = 0; n < 30; n++) b.publish(n % 2 === 0 ? 'step.started' : 'step.failed', { n });
    await b.flush();
    const everything = await b.history({ limit: 1000 });
    assert.deepEqual(
      everything.events.map((e) => e.data.n),
      [...Array(30).keys()],
    );
    const ids = everything.events.map((e) => e.id);
    assert.equal(everything.lastId, ids[29]);

    const newest = await b.history({ limit: 5 });
    assert.deepEqual(
      newest.events.map((e) => e.data.n),
      [25, 26, 27, 28, 29],
    );
    const newestFailed = await b.history({ limit: 2, types: ['step.failed'] });
    assert.deepEqual(
      newestFailed.events.map((e) => e.data.n),
      [27, 29],
    );
    assert.equal(newestFailed.lastId, ids[29], 'lastId is the newest entry read, whatever the filter');

    const afterTen = await b.history({ since: ids[9] });
    assert.deepEqual(
      afterTen.events.map((e) => e.data.n),
      [...Array(20).keys()].map((i) => i + 10),
    );
    const afterTenFirstThree = await b.history({ since: ids[9], limit: 3 });
    assert.deepEqual(
      afterTenFirstThree.events.map((e) => e.data.n),
      [10, 11, 12],
    );
    assert.equal(afterTenFirstThree.lastId, ids[12]);

    const resumed = await collect(b, { since: ids[19] });
    b.publish('step.started', { n: 30 });
    await b.flush();
    await waitFor('the events after the 20th and the new one', async () => resumed.events.some((e) => e.data.n === 30));
    assert.deepEqual(
      resumed.events.map((e) => e.data.n),
      [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30],
    );

    await assert.rejects(b.history({ since: 'yesterday' }), InputError);
    await assert.rejects(
      b.subscribe({ since: '12-ab' }, () => undefined),
      InputError,
    );
  });

  it('a subscriber whose connection is cut resumes after the last event it delivered, missing none', async () => {
    const stream = nextStream();
    const b = await bus({ stream });
    const seen = await collect(b);
    b.publish('job.started', { n: 0 });
    await b.flush();
    await waitFor('the first event', async () => seen.events.length === 1);

    const admin = createClient({ url: server.redis.url });
    await admin.connect();
    try {
      // Cut the subscriber's connection (Redis keeps the stream), then add events while it reconnects.
      const clients = String(await admin.sendCommand(['CLIENT', 'LIST']));
      const reader = /id=(\d+) [^\n]*cmd=xread/.exec(clients)?.[1];
      assert.ok(reader, `the subscriber's XREAD connection is listed: ${clients}`);
      await admin.sendCommand(['CLIENT', 'KILL', 'ID', reader]);
      for (let n = 1; n <= 5; n++)
        await admin.xAdd(stream, '*', { type: 'job.started', time: new Date().toISOString(), data: JSON.stringify({ n }) });
    } finally {
      await admin.close();
    }
    b.publish('job.started', { n: 6 });
    await b.flush();
    await waitFor('the events sent while it reconnected', async () => seen.events.length === 7);
    assert.deepEqual(
      seen.events.map((e) => e.data.n),
      [0, 1, 2, 3, 4, 5, 6],
    );
  });

  it('a REDIS_URL that is not a redis:// URL is one ConfigError line, without its password', () => {
    assert.throws(
      () => loadConfig({ REDIS_URL: 'http://user:hunter2-secret@cache:6379' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes('REDIS_URL must be a redis:// URL') &&
        !err.message.includes('hunter2') &&
        !err.message.includes('\n'),
    );
    assert.equal(loadConfig({ REDIS_URL: 'rediss://:pw@cache:6380/2' }).redisUrl, 'rediss://:pw@cache:6380/2');
    assert.equal(loadConfig({}).redisUrl, undefined);
  });

  it('opens while Redis is down: publishing drops and counts, subscribing fails with exit 69', async () => {
    const port = await freePort();
    const log = memoryLogger();
    const b = await bus({ stream: nextStream(), url: `redis://127.0.0.1:${port}`, log });
    assert.equal(b.stats().connected, false);
    b.publish('job.enqueued', { job_id: 1 });
    b.publish('job.enqueued', { job_id: 2 });
    await b.flush();
    assert.deepEqual(b.stats(), { transport: 'redis', published: 0, dropped: 2, connected: false });
    assert.equal(warnings(log).length, 1, log.lines.join('\n'));
    await assert.rejects(
      b.subscribe({}, () => undefined),
      (err: unknown) => err instanceof CesarError && err.exitCode === 69 && err.message.includes(`127.0.0.1:${port}`),
    );
    await assert.rejects(b.history({}), (err: unknown) => err instanceof CesarError && err.code === 'redis_unavailable');

    // A bus that only reads (cesar events) opens no publishing connection: no warning of its own.
    const readerLog = memoryLogger();
    const reader = await bus({ stream: nextStream(), url: `redis://127.0.0.1:${port}`, log: readerLog, readOnly: true });
    assert.equal(reader.transport, 'redis');
    assert.deepEqual(reader.stats(), { transport: 'none', published: 0, dropped: 0, connected: false });
    assert.deepEqual(readerLog.lines, []);
  });
});

describe('the Redis event bus through an outage', () => {
  const db = useTestDatabase();
  const password = 'outage-secret-pw';
  const server = useTestRedis({ password });
  const publisherLog = memoryLogger();
  const subscriberLog = memoryLogger();
  let publisher: EventBus;
  let subscriber: EventBus;
  before(async () => {
    const options = { redisUrl: server.redis.url, pool: db.handle.pool, databaseUrl: db.url, stream: 'test:outage', maxLen: 1000 };
    publisher = await openEventBus({ ...options, log: publisherLog });
    subscriber = await openEventBus({ ...options, log: subscriberLog });
  });
  after(async () => {
    await publisher?.close();
    await subscriber?.close();
  });

  it('names the stream and the address, never the password', () => {
    assert.equal(publisher.describe(), `Redis stream test:outage at 127.0.0.1:${server.redis.port}`);
  });

  it('drops and counts while Redis is down, warns once, and delivers again once it is back', async () => {
    const seen: CesarEvent[] = [];
    const subscription = await subscriber.subscribe({}, (e) => seen.push(e));
    try {
      publisher.publish('job.started', { phase: 'before' });
      await publisher.flush();
      await waitFor('the event sent before the outage', async () => seen.length === 1);

      await server.redis.stop();
      await waitFor('the publisher to see Redis gone', async () => !publisher.stats().connected);
      for (let n = 0; n < 10; n++) assert.doesNotThrow(() => publisher.publish('job.started', { phase: 'during', n }));
      await publisher.flush();
      assert.deepEqual(publisher.stats(), { transport: 'redis', published: 1, dropped: 10, connected: false });
      // Long enough for several failed reconnection attempts, each of which must stay silent.
      await new Promise((r) => setTimeout(r, 800));

      await server.redis.start();
      await waitFor('the publisher to reconnect', async () => publisher.stats().connected);
      for (let n = 0; n < 3; n++) publisher.publish('job.started', { phase: 'after', n });
      await publisher.flush();
      await waitFor('the events sent after the outage', async () => seen.length === 4);
      assert.deepEqual(
        seen.map((e) => e.data),
        [{ phase: 'before' }, { phase: 'after', n: 0 }, { phase: 'after', n: 1 }, { phase: 'after', n: 2 }],
      );
      assert.deepEqual(publisher.stats(), { transport: 'redis', published: 4, dropped: 10, connected: true });

      assert.equal(warnings(publisherLog).length, 1, publisherLog.lines.join('\n'));
      assert.match(warnings(publisherLog)[0]!, /cannot send to Redis at 127\.0\.0\.1:\d+/);
      assert.equal(publisherLog.lines.filter((l) => l.includes('is back')).length, 1, publisherLog.lines.join('\n'));
      const subscriptionWarnings = warnings(subscriberLog).filter((l) => l.includes('event subscription'));
      assert.equal(subscriptionWarnings.length, 1, subscriberLog.lines.join('\n'));
      assert.ok(!publisherLog.lines.join('\n').includes(password));
    } finally {
      await subscription.close();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bufferedPublisher, type EventTransport, type PendingEvent } from '../../src/events/publisher.js';
import { memoryLogger, waitFor } from '../helpers/queue.js';

/**
 * The buffer between publish() and a transport, over a transport of the test's own that records the
 * batches it is given and can be held (a slow Redis) or made to fail (a refused one). The real
 * transports are tested in redis.test.ts and postgres.test.ts.
 */
function heldTransport() {
  const batches: PendingEvent[][] = [];
  let release: () => void = () => undefined;
  let held: Promise<void> | undefined;
  let failing = false;
  const transport: EventTransport = {
    name: 'postgres',
    connected: () => !failing,
    async send(batch) {
      batches.push([...batch]);
      if (held) await held;
      if (failing) throw new Error('refused');
      return batch.length;
    },
    async close() {},
  };
  return {
    transport,
    batches,
    hold() {
      held = new Promise((resolve) => {
        release = () => {
          held = undefined;
          resolve();
        };
      });
    },
    release: () => release(),
    fail(value: boolean) {
      failing = value;
    },
  };
}

describe('the publisher buffer', () => {
  it('sends batches of at most batchSize, in order, and flush() waits for all published before it', async () => {
    const t = heldTransport();
    const publisher = bufferedPublisher(t.transport, { log: memoryLogger(), batchSize: 3, intervalMs: 10_000 });
    for (let n = 0; n < 7; n++) publisher.publish('job.started', { n });
    await publisher.flush();
    assert.deepEqual(
      t.batches.map((b) => b.map((e) => e.data.n)),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    assert.deepEqual(publisher.stats(), { transport: 'postgres', published: 7, dropped: 0, connected: true });
    await publisher.close();
  });

  it('flushes on its own: a full batch at once, a partial one after the interval', async () => {
    const t = heldTransport();
    const publisher = bufferedPublisher(t.transport, { log: memoryLogger(), batchSize: 4, intervalMs: 20 });
    for (let n = 0; n < 4; n++) publisher.publish('job.started', { n });
    await waitFor('the full batch', async () => t.batches.length === 1);
    publisher.publish('job.started', { n: 4 });
    await waitFor('the partial batch', async () => t.batches.length === 2);
    assert.deepEqual(
      t.batches.map((b) => b.length),
      [4, 1],
    );
    await publisher.close();
  });

  it('holds at most `capacity` events while the transport is slow: more are dropped, counted, with one warning', async () => {
    const t = heldTransport();
    const log = memoryLogger();
    const publisher = bufferedPublisher(t.transport, { log, capacity: 5, batchSize: 100, intervalMs: 10_000 });
    t.hold();
    publisher.publish('job.started', { n: 0 });
    const flushed = publisher.flush();
    await waitFor('the first batch to be in flight', async () => t.batches.length === 1);
    for (let n = 1; n <= 8; n++) publisher.publish('job.started', { n });
    assert.deepEqual(publisher.stats(), { transport: 'postgres', published: 0, dropped: 3, connected: true });
    assert.equal(log.lines.filter((l) => l.startsWith('WARN:')).length, 1, log.lines.join('\n'));
    t.release();
    await flushed;
    await publisher.flush();
    assert.deepEqual(
      t.batches.map((b) => b.map((e) => e.data.n)),
      [[0], [1, 2, 3, 4, 5]],
    );
    assert.deepEqual(publisher.stats(), { transport: 'postgres', published: 6, dropped: 3, connected: true });
    await publisher.close();
  });

  it('counts a batch the transport refuses as dropped, and flush() still resolves', async () => {
    const t = heldTransport();
    const publisher = bufferedPublisher(t.transport, { log: memoryLogger(), intervalMs: 10_000 });
    t.fail(true);
    publisher.publish('job.failed', { n: 1 });
    publisher.publish('job.failed', { n: 2 });
    await publisher.flush();
    assert.deepEqual(publisher.stats(), { transport: 'postgres', published: 0, dropped: 2, connected: false });
    t.fail(false);
    publisher.publish('job.failed', { n: 3 });
    await publisher.flush();
    assert.deepEqual(publisher.stats(), { transport: 'postgres', published: 1, dropped: 2, connected: true });
    await publisher.close();
  });

  it('close() sends what is buffered; events published after it are dropped and counted', async () => {
    const t = heldTransport();
    const publisher = bufferedPublisher(t.transport, { log: memoryLogger(), intervalMs: 10_000 });
    publisher.publish('job.succeeded', { n: 1 });
    await publisher.close();
    assert.equal(t.batches.length, 1);
    publisher.publish('job.succeeded', { n: 2 });
    assert.deepEqual(publisher.stats(), { transport: 'postgres', published: 1, dropped: 1, connected: false });
  });

  it('close() does not wait forever on a transport that never answers', async () => {
    const t = heldTransport();
    const log = memoryLogger();
    const publisher = bufferedPublisher(t.transport, { log, intervalMs: 10_000, closeTimeoutMs: 100 });
    t.hold();
    publisher.publish('job.succeeded', { n: 1 });
    const flushed = publisher.flush();
    await waitFor('the batch to be in flight', async () => t.batches.length === 1);
    publisher.publish('job.succeeded', { n: 2 });
    await publisher.close();
    assert.deepEqual(publisher.stats(), { transport: 'postgres', published: 0, dropped: 1, connected: false });
    assert.match(log.lines.join('\n'), /1 event\(s\) not sent within 0.1 s of closing; dropped/);
    await flushed;
    t.release();
    await waitFor('the batch that was in flight to be counted', async () => publisher.stats().published === 1);
  });
});

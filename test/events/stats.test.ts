import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openEventBus } from '../../src/events/bus.js';
import { eventPublisherTotals } from '../../src/events/stats.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { memoryLogger, waitFor } from '../helpers/queue.js';

interface PublisherRow {
  holder: string;
  transport: string;
  published: string;
  dropped: string;
  connected: boolean;
}

describe('publisher stats across processes (event_publishers)', () => {
  const db = useTestDatabase();
  const row = async (holder: string) =>
    (
      await sql<PublisherRow>(db.url, 'SELECT holder, transport, published, dropped, connected FROM event_publishers WHERE holder = $1', [
        holder,
      ])
    )[0];

  it('a bus with a holder writes its row when it opens and its final counts when it closes', async () => {
    const holder = `worker:test:${process.pid}`;
    const bus = await openEventBus({ pool: db.handle.pool, databaseUrl: db.url, log: memoryLogger(), holder });
    await waitFor('the first row', async () => (await row(holder)) !== undefined);
    for (let n = 0; n < 3; n++) bus.publish('job.succeeded', { n });
    bus.publish('job.succeeded', { n: 10n });
    await bus.close();
    assert.deepEqual(await row(holder), { holder, transport: 'postgres', published: '3', dropped: '1', connected: true });
  });

  it('a bus without a holder writes nothing', async () => {
    const before = await sql<{ n: string }>(db.url, 'SELECT count(*) AS n FROM event_publishers');
    const bus = await openEventBus({ pool: db.handle.pool, databaseUrl: db.url, log: memoryLogger() });
    bus.publish('job.succeeded', {});
    await bus.close();
    assert.deepEqual(await sql<{ n: string }>(db.url, 'SELECT count(*) AS n FROM event_publishers'), before);
  });

  it('totals sum the publishers heard from in the last 5 minutes, and count the disconnected ones', async () => {
    await sql(db.url, 'DELETE FROM event_publishers');
    await sql(
      db.url,
      `INSERT INTO event_publishers (holder, transport, published, dropped, connected, updated_at) VALUES
         ('a', 'redis', 100, 0, true, now()),
         ('b', 'redis', 50, 7, false, now() - interval '1 minute'),
         ('c', 'redis', 1000, 1000, false, now() - interval '10 minutes')`,
    );
    assert.deepEqual(await eventPublisherTotals(db.handle.pool), { publishers: 2, published: 150, dropped: 7, disconnected: 1 });
    await sql(db.url, 'DELETE FROM event_publishers');
    assert.deepEqual(await eventPublisherTotals(db.handle.pool), { publishers: 0, published: 0, dropped: 0, disconnected: 0 });
  });

  it('a bus that opens deletes the rows of publishers gone for a day', async () => {
    await sql(
      db.url,
      `INSERT INTO event_publishers (holder, transport, published, dropped, connected, updated_at) VALUES
         ('gone', 'postgres', 1, 0, true, now() - interval '2 days'),
         ('recent', 'postgres', 1, 0, true, now() - interval '2 hours')`,
    );
    const bus = await openEventBus({ pool: db.handle.pool, databaseUrl: db.url, log: memoryLogger(), holder: 'fresh' });
    await waitFor('the new row', async () => (await row('fresh')) !== undefined);
    await bus.close();
    assert.equal(await row('gone'), undefined);
    assert.ok(await row('recent'));
  });
});

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { postgresFeed, tickFeed } from '../../src/dashboard/changes.js';
import { silentLogger } from '../../src/log.js';
import { sql, useTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/queue.js';
import { manualFeed, openEventStream, startDashboard, type TestDashboard } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('live updates: one snapshot for every open page (Server-Sent Events)', () => {
  const database = useTestDatabase();
  const feed = manualFeed();
  let dashboard: TestDashboard;

  before(async () => {
    // Paused templates: a tick falling due during the run (each quarter hour) would change the snapshot.
    await sql(database.url, `UPDATE workflow_templates SET is_active = false`);
    dashboard = await startDashboard(database.handle, { token: 'test-token', changes: feed, liveIntervalMs: 50 });
  });
  after(async () => {
    await dashboard?.close();
  });

  const insertJob = () => sql(database.url, `INSERT INTO job_queue (job_type) VALUES ('canary')`);

  /** Open `count` pages, make `changes` changes, close the pages: how many snapshots the server computed meanwhile. */
  async function snapshotsFor(count: number, changes: number): Promise<number> {
    const start = dashboard.snapshots;
    const streams = await Promise.all(Array.from({ length: count }, () => openEventStream(dashboard.baseUrl)));
    const received = (n: number) => Promise.all(streams.map((s) => s.waitFor(`${n} snapshots`, () => s.snapshots().length >= n)));
    await received(1);
    for (let i = 1; i <= changes; i++) {
      await insertJob();
      feed.fire();
      await received(i + 1);
    }
    for (const s of streams) s.close();
    await waitFor('the hub to stop listening once every page is gone', async () => feed.listeners === 0);
    return dashboard.snapshots - start;
  }

  it('does nothing while no page is open: no listening, no snapshot', async () => {
    assert.equal(feed.listeners, 0);
    feed.fire();
    await sleep(150);
    assert.equal(dashboard.snapshots, 0);
  });

  it('ten open pages cost the database what one costs: the same number of snapshot computations', async () => {
    const one = await snapshotsFor(1, 3);
    const ten = await snapshotsFor(10, 3);
    assert.equal(one, 4, 'the first snapshot, then one per change');
    assert.equal(ten, one);
  });

  it('every page gets the same snapshot: overview, newest jobs, workflows and agents', async () => {
    const streams = await Promise.all([openEventStream(dashboard.baseUrl), openEventStream(dashboard.baseUrl)]);
    await Promise.all(streams.map((s) => s.waitFor('a snapshot', () => s.snapshots().length > 0)));
    const [a, b] = streams.map((s) => s.frames.find((f) => f.event === 'snapshot')!.data);
    assert.equal(a, b);
    const snapshot = JSON.parse(a!);
    assert.deepEqual(Object.keys(snapshot).sort(), ['agents', 'jobs', 'overview', 'workflows']);
    assert.ok(snapshot.jobs.recent.length > 0);
    assert.equal(snapshot.workflows.templates.length, 5);
    for (const s of streams) s.close();
    await waitFor('no listener', async () => feed.listeners === 0);
  });

  it('a burst of changes makes one computation, and an unchanged snapshot is not pushed again', async () => {
    const stream = await openEventStream(dashboard.baseUrl);
    await stream.waitFor('the first snapshot', () => stream.snapshots().length === 1);
    const start = dashboard.snapshots;
    for (let i = 0; i < 50; i++) feed.fire();
    await waitFor('a computation', async () => dashboard.snapshots > start);
    await sleep(200);
    assert.equal(dashboard.snapshots - start, 1);
    assert.equal(stream.snapshots().length, 1, 'nothing changed in the database: nothing pushed');
    stream.close();
    await waitFor('no listener', async () => feed.listeners === 0);
  });

  it('answers with an event stream that proxies do not buffer', async () => {
    const response = await new Promise<http.IncomingMessage>((resolve) => http.get(`${dashboard.baseUrl}/dashboard-api/events`, resolve));
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/event-stream/);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.headers['x-accel-buffering'], 'no');
    response.destroy();
  });

  it('closing the server ends the open streams (it does not wait for them)', async () => {
    const other = await startDashboard(database.handle, { token: 'test-token', changes: manualFeed() });
    const stream = await openEventStream(other.baseUrl);
    await stream.waitFor('a snapshot', () => stream.snapshots().length > 0);
    await other.close();
  });
});

describe('change feeds', () => {
  const database = useTestDatabase();

  it('PostgreSQL: an enqueue (cesar_jobs) and an event of the bus (cesar_events) are changes; LISTEN runs only while subscribed', async () => {
    const feed = postgresFeed(database.url, silentLogger);
    const listening = async () =>
      Number(
        (
          await sql(
            database.url,
            `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'cesar-listen:%' AND datname = current_database()`,
          )
        )[0]!.n,
      );
    assert.equal(await listening(), 0);
    let changes = 0;
    const stop = feed.onChange(() => {
      changes += 1;
    });
    try {
      // Each connection reports once when it is up (notifications sent before it listened are lost).
      await waitFor('both channels to be listened to', async () => changes >= 2 && (await listening()) === 2);
      const afterConnect = changes;
      await sql(database.url, `INSERT INTO job_queue (job_type) VALUES ('canary')`);
      await waitFor('the enqueue notification', async () => changes > afterConnect);
      const afterEnqueue = changes;
      const envelope = JSON.stringify({ id: '1-0', type: 'job.succeeded', time: new Date().toISOString(), data: { id: 1 } });
      await sql(database.url, `SELECT pg_notify('cesar_events', $1)`, [envelope]);
      await waitFor('the event notification', async () => changes > afterEnqueue);
    } finally {
      stop();
    }
    await waitFor('the LISTEN connections to close', async () => (await listening()) === 0);
  });

  it('tick: a change every interval while subscribed, none after', async () => {
    const feed = tickFeed(20);
    let ticks = 0;
    const stop = feed.onChange(() => {
      ticks += 1;
    });
    await waitFor('three ticks', async () => ticks >= 3);
    stop();
    const stopped = ticks;
    await sleep(80);
    assert.equal(ticks, stopped);
  });
});

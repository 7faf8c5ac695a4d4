import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type EventBus, openEventBus } from '../../src/events/bus.js';
import type { CesarEvent } from '../../src/events/envelope.js';
import { cesar, spawnCesar } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';
import { memoryLogger, waitFor } from '../helpers/queue.js';
import { useTestRedis } from '../helpers/redis.js';

/** `cesar events --follow ...` running, with following(): resolves once it is subscribed. */
function follow(args: string[], env: Record<string, string>) {
  const child = spawnCesar(['events', '--follow', ...args], env);
  return {
    ...child,
    following: () => waitFor('`cesar events --follow` to be subscribed', async () => child.stderr().includes('Following events on')),
  };
}

async function received(bus: EventBus): Promise<{ events: CesarEvent[]; close(): Promise<void> }> {
  const events: CesarEvent[] = [];
  const subscription = await bus.subscribe({}, (e) => events.push(e));
  return { events, close: () => subscription.close() };
}

describe('cesar events on PostgreSQL', () => {
  const db = useTestDatabase();
  const running: Array<{ kill(): void }> = [];
  after(() => {
    for (const r of running) r.kill();
  });

  it('--follow --json prints, one JSON envelope a line, the events another process publishes, of the types asked', async () => {
    const cli = follow(['--json', '--type', 'job.failed,job.succeeded'], { DATABASE_URL: db.url });
    running.push(cli);
    await cli.following();
    const bus = await openEventBus({ pool: db.handle.pool, databaseUrl: db.url, log: memoryLogger() });
    const here = await received(bus);
    try {
      bus.publish('job.started', { job_id: 1 });
      bus.publish('job.failed', { job_id: 1, error: 'boom\nsecond line' });
      bus.publish('job.succeeded', { job_id: 2, duration_ms: 12.5 });
      await bus.flush();
      await waitFor('the two events on stdout', async () => cli.lines.length === 2 && here.events.length === 3);
      assert.deepEqual(
        cli.lines,
        here.events.filter((e) => e.type !== 'job.started').map((e) => JSON.stringify(e)),
      );
      assert.deepEqual(Object.keys(JSON.parse(cli.lines[0]!)), ['id', 'type', 'time', 'data']);
    } finally {
      await here.close();
      await bus.close();
    }
    assert.equal(await cli.stop(), 0, cli.stderr());
    assert.equal(cli.lines.length, 2);
  });

  it('without --follow there is nothing to print: exit 64 and one line saying what to do', async () => {
    const result = await cesar(['events'], { DATABASE_URL: db.url });
    assert.equal(result.exitCode, 64, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /PostgreSQL NOTIFY keeps no event history/);
    assert.match(result.stderr, /--follow/);
    assert.match(result.stderr, /REDIS_URL/);
  });

  it('an unknown --type is a usage error naming the valid types', async () => {
    const result = await cesar(['events', '--follow', '--type', 'job.exploded'], { DATABASE_URL: db.url });
    assert.equal(result.exitCode, 64, result.stderr);
    assert.match(result.stderr, /unknown event type "job\.exploded"; the types are job\.enqueued, job\.started, /);
  });
});

describe('cesar events on a Redis stream', () => {
  const db = useTestDatabase();
  const server = useTestRedis();
  const running: Array<{ kill(): void }> = [];
  after(() => {
    for (const r of running) r.kill();
  });
  const env = () => ({ DATABASE_URL: db.url, REDIS_URL: server.redis.url, CESAR_EVENTS_STREAM: 'test:cli' });

  it('prints the newest events, or those after --since, and --follow goes on with new ones', async () => {
    const bus = await openEventBus({
      redisUrl: server.redis.url,
      pool: db.handle.pool,
      databaseUrl: db.url,
      log: memoryLogger(),
      stream: 'test:cli',
      maxLen: 1000,
    });
    try {
      for (let n = 0; n < 5; n++) bus.publish(n % 2 === 0 ? 'step.started' : 'step.succeeded', { n });
      await bus.flush();
      const all = (await bus.history({ limit: 100 })).events;

      const newest = await cesar(['events', '--json', '--limit', '2'], env());
      assert.equal(newest.exitCode, 0, newest.stderr);
      assert.deepEqual(
        newest.stdout.trim().split('\n'),
        all.slice(3).map((e) => JSON.stringify(e)),
      );

      const since = await cesar(['events', '--json', '--since', all[1]!.id, '--type', 'step.started'], env());
      assert.equal(since.exitCode, 0, since.stderr);
      assert.deepEqual(
        since.stdout.trim().split('\n'),
        [all[2]!, all[4]!].map((e) => JSON.stringify(e)),
      );

      const text = await cesar(['events', '--limit', '1'], env());
      assert.equal(text.exitCode, 0, text.stderr);
      assert.equal(text.stdout, `${all[4]!.time}  step.started           ${all[4]!.id}  n=4`);

      const cli = follow(['--json', '--limit', '1'], env());
      running.push(cli);
      await cli.following();
      bus.publish('step.failed', { n: 5 });
      await bus.flush();
      await waitFor('the newest event and the new one', async () => cli.lines.length === 2);
      const latest = (await bus.history({ limit: 1 })).events[0]!;
      assert.deepEqual(cli.lines, [JSON.stringify(all[4]), JSON.stringify(latest)]);
      assert.equal(latest.type, 'step.failed');
      assert.equal(await cli.stop(), 0, cli.stderr());
    } finally {
      await bus.close();
    }
  });

  it('--since that is not an event id is refused (exit 65)', async () => {
    const result = await cesar(['events', '--since', 'last-tuesday'], env());
    assert.equal(result.exitCode, 65, result.stderr);
    assert.match(result.stderr, /"last-tuesday" is not an event id/);
  });
});

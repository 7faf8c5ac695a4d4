import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql as ksql } from 'kysely';
import { withTransaction } from '../../src/db/transaction.js';
import { sql, useTestDatabase } from '../helpers/db.js';

describe('withTransaction', () => {
  const t = useTestDatabase();

  const count = async (table: string) => Number((await sql(t.url, `SELECT count(*) AS n FROM ${table}`))[0]!.n);

  it('commits writes to several tables together', async () => {
    const db = await t.handle.kysely();
    const [jobs, events] = [await count('job_queue'), await count('agent_events')];
    await withTransaction(db, async (trx) => {
      await trx.insertInto('job_queue').values({ job_type: 'canary', payload: '{}' }).execute();
      await trx.insertInto('agent_events').values({ event_type: 'test.written', payload: '{}' }).execute();
    });
    assert.deepEqual([await count('job_queue'), await count('agent_events')], [jobs + 1, events + 1]);
  });

  it('writes nothing when fn throws', async () => {
    const db = await t.handle.kysely();
    const [jobs, events] = [await count('job_queue'), await count('agent_events')];
    await assert.rejects(
      withTransaction(db, async (trx) => {
        await trx.insertInto('job_queue').values({ job_type: 'canary', payload: '{}' }).execute();
        await trx.insertInto('agent_events').values({ event_type: 'test.written', payload: '{}' }).execute();
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.deepEqual([await count('job_queue'), await count('agent_events')], [jobs, events]);
  });

  it('runs fn again after a serialization failure, and gives up after the retries', async () => {
    const db = await t.handle.kysely();
    const jobs = await count('job_queue');
    let runs = 0;
    const raise = ksql`DO $$ BEGIN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001'; END $$`;
    await withTransaction(db, async (trx) => {
      runs += 1;
      await trx.insertInto('job_queue').values({ job_type: 'canary', payload: '{}' }).execute();
      if (runs === 1) await raise.execute(trx);
    });
    assert.equal(runs, 2);
    assert.equal(await count('job_queue'), jobs + 1, 'the first run rolled back, the second committed');

    runs = 0;
    await assert.rejects(
      withTransaction(
        db,
        async (trx) => {
          runs += 1;
          await raise.execute(trx);
        },
        { retries: 2 },
      ),
      (err: { code?: string }) => err.code === '40001',
    );
    assert.equal(runs, 3);
  });
});

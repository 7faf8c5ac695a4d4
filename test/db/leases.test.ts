import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acquireLease, releaseLease } from '../../src/db/leases.js';
import { sql, useTestDatabase } from '../helpers/db.js';

describe('leader leases (real PostgreSQL)', () => {
  const t = useTestDatabase();
  const lease = async (name: string) =>
    (await sql(t.url, 'SELECT holder, elected_at, expires_at FROM leader_leases WHERE name = $1', [name]))[0];

  it('two holders racing for a free lease: exactly one gets it', async () => {
    for (let round = 0; round < 10; round++) {
      const name = `race_${round}`;
      const [a, b] = await Promise.all([acquireLease(t.handle.pool, name, 'a', 30), acquireLease(t.handle.pool, name, 'b', 30)]);
      assert.equal(Number(a) + Number(b), 1, `round ${round}: a=${a} b=${b}`);
      assert.equal((await lease(name))!.holder, a ? 'a' : 'b');
    }
  });

  it('the holder renews its lease (same term), another holder is refused while it lasts', async () => {
    assert.equal(await acquireLease(t.handle.pool, 'renew', 'a', 30), true);
    const first = (await lease('renew'))!;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await acquireLease(t.handle.pool, 'renew', 'a', 60), true);
    const renewed = (await lease('renew'))!;
    assert.equal(renewed.holder, 'a');
    assert.equal(renewed.elected_at.getTime(), first.elected_at.getTime(), 'elected_at keeps the start of the term');
    assert.ok(renewed.expires_at > first.expires_at, 'the renewal moved expires_at');
    assert.equal(await acquireLease(t.handle.pool, 'renew', 'b', 30), false);
    assert.equal((await lease('renew'))!.holder, 'a');
  });

  it('another holder takes over an expired lease, as a new term', async () => {
    assert.equal(await acquireLease(t.handle.pool, 'expiry', 'a', 0.2), true);
    const first = (await lease('expiry'))!;
    assert.equal(await acquireLease(t.handle.pool, 'expiry', 'b', 30), false, 'not before it expires');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await acquireLease(t.handle.pool, 'expiry', 'b', 30), true);
    const taken = (await lease('expiry'))!;
    assert.equal(taken.holder, 'b');
    assert.ok(taken.elected_at > first.elected_at, 'a new term starts');
    assert.equal(await acquireLease(t.handle.pool, 'expiry', 'a', 30), false, 'the old holder cannot take it back');
  });

  it('release: only the holder releases, and then anyone may take the lease at once', async () => {
    assert.equal(await acquireLease(t.handle.pool, 'release', 'a', 30), true);
    assert.equal(await releaseLease(t.handle.pool, 'release', 'b'), false, 'b does not hold it');
    assert.equal((await lease('release'))!.holder, 'a');
    assert.equal(await releaseLease(t.handle.pool, 'release', 'a'), true);
    assert.equal(await lease('release'), undefined);
    assert.equal(await releaseLease(t.handle.pool, 'release', 'a'), false, 'released already');
    assert.equal(await acquireLease(t.handle.pool, 'release', 'b', 30), true);
  });
});

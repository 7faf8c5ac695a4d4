import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffBaseMs, backoffDelayMs, defaultBackoff } from '../../src/queue/backoff.js';

describe('backoff schedule', () => {
  it('doubles from 2 s: the delay after attempt n lies in [2^(n-1), 2^n] seconds', () => {
    const low = [1, 2, 3, 4].map((n) => backoffDelayMs(n, defaultBackoff, () => 0));
    const high = [1, 2, 3, 4].map((n) => backoffDelayMs(n, defaultBackoff, () => 1));
    assert.deepEqual(low, [1000, 2000, 4000, 8000]);
    assert.deepEqual(high, [2000, 4000, 8000, 16000]);
  });

  it('is capped at one hour however many attempts', () => {
    assert.equal(backoffBaseMs(30), 3_600_000);
    assert.equal(backoffBaseMs(10_000), 3_600_000);
    assert.ok(backoffDelayMs(50, defaultBackoff, () => 1) <= 3_600_000);
  });

  it('with the default 5 attempts, a failing job is dead after at most 30 s of waiting', () => {
    // Four waits between five attempts; the fifth failure is final.
    const worst = [1, 2, 3, 4].reduce((sum, n) => sum + backoffDelayMs(n, defaultBackoff, () => 1), 0);
    assert.equal(worst, 30_000);
  });

  it('jitters within the upper half of the base', () => {
    for (let i = 0; i < 100; i++) {
      const d = backoffDelayMs(3);
      assert.ok(d >= 4000 && d <= 8000, String(d));
    }
  });
});

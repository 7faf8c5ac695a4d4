import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CatchupPolicy } from '../../src/db/types.js';
import {
  describeLateness,
  dueTicks,
  maxTicksPerPass,
  nextTick,
  type PlannedTick,
  repeatsWallTime,
  type Schedule,
  ticksBetween,
  utcOffsetMinutes,
} from '../../src/scheduler/slots.js';
import { cronProblem } from '../../src/workflows/cron.js';

const missedAfterMs = 60_000;

function schedule(catchup: CatchupPolicy, overrides: Partial<Schedule> = {}): Schedule {
  return {
    cron: '*/15 * * * *',
    timezone: 'UTC',
    catchup,
    catchupMaxCount: 100,
    catchupMaxAgeSeconds: 86_400,
    ...overrides,
  };
}

const at = (iso: string): Date => new Date(iso);
const isos = (ticks: Date[]): string[] => ticks.map((t) => t.toISOString());
const times = (planned: PlannedTick[]): string[] => planned.map((t) => t.at.toISOString());
const fates = (planned: PlannedTick[]): string[] => planned.map((t) => t.fate);

/** The ticks of one local day: (start, start + 24 h] given as UTC instants. */
function ticksOfDay(cron: string, timezone: string, startIso: string): string[] {
  const start = at(startIso);
  return isos(ticksBetween(cron, timezone, start, new Date(start.getTime() + 86_400_000 - 1), 1000));
}

describe('dueTicks: catch-up policies with an injected clock (*/15 * * * * UTC, missed after 60 s)', () => {
  it('on time: the tick 0.5 s ago fires, with no reason', () => {
    for (const policy of ['skip', 'latest', 'all'] as const) {
      const planned = dueTicks(schedule(policy), at('2026-03-02T10:00:00Z'), at('2026-03-02T10:15:00.500Z'), missedAfterMs);
      assert.deepEqual(planned, [{ at: at('2026-03-02T10:15:00Z'), fate: 'fire' }], policy);
    }
  });

  it('a tick exactly missedAfterMs old is still on time; one millisecond more and it is missed', () => {
    const onTime = dueTicks(schedule('skip'), at('2026-03-02T10:00:00Z'), at('2026-03-02T10:16:00Z'), missedAfterMs);
    assert.deepEqual(fates(onTime), ['fire']);
    const missed = dueTicks(schedule('skip'), at('2026-03-02T10:00:00Z'), at('2026-03-02T10:16:00.001Z'), missedAfterMs);
    assert.deepEqual(fates(missed), ['skipped']);
  });

  it('skip: every missed tick is skipped, with a reason naming the policy and the lateness', () => {
    const planned = dueTicks(schedule('skip'), at('2026-03-02T10:00:00Z'), at('2026-03-02T11:07:00Z'), missedAfterMs);
    assert.deepEqual(times(planned), [
      '2026-03-02T10:15:00.000Z',
      '2026-03-02T10:30:00.000Z',
      '2026-03-02T10:45:00.000Z',
      '2026-03-02T11:00:00.000Z',
    ]);
    assert.deepEqual(fates(planned), ['skipped', 'skipped', 'skipped', 'skipped']);
    for (const tick of planned) assert.match(tick.reason ?? '', /catch-up policy skip/);
    assert.match(planned[0]?.reason ?? '', /missed by 52 min/);
    assert.match(planned[3]?.reason ?? '', /missed by 7 min/);
  });

  it('latest: the newest missed tick fires late, the older ones are coalesced', () => {
    const planned = dueTicks(schedule('latest'), at('2026-03-02T10:00:00Z'), at('2026-03-02T11:07:00Z'), missedAfterMs);
    assert.deepEqual(times(planned), [
      '2026-03-02T10:15:00.000Z',
      '2026-03-02T10:30:00.000Z',
      '2026-03-02T10:45:00.000Z',
      '2026-03-02T11:00:00.000Z',
    ]);
    assert.deepEqual(fates(planned), ['coalesced', 'coalesced', 'coalesced', 'fire']);
    const newest = planned[3];
    assert.match(newest?.reason ?? '', /fired 7 min late/);
    assert.match(newest?.reason ?? '', /catch-up policy latest/);
    for (const tick of planned.slice(0, 3)) assert.match(tick.reason ?? '', /coalesced/);
  });

  it('latest: when the newest due tick is on time it fires (no reason), the missed older ones are coalesced', () => {
    const planned = dueTicks(schedule('latest'), at('2026-03-02T10:00:00Z'), at('2026-03-02T11:00:30Z'), missedAfterMs);
    assert.deepEqual(times(planned), [
      '2026-03-02T10:15:00.000Z',
      '2026-03-02T10:30:00.000Z',
      '2026-03-02T10:45:00.000Z',
      '2026-03-02T11:00:00.000Z',
    ]);
    assert.deepEqual(fates(planned), ['coalesced', 'coalesced', 'coalesced', 'fire']);
    assert.equal(planned[3]?.reason, undefined);
  });

  it('all with catchupMaxCount 2: the newest two missed ticks fire, older ones are skipped naming the limit', () => {
    const planned = dueTicks(
      schedule('all', { catchupMaxCount: 2 }),
      at('2026-03-02T10:00:00Z'),
      at('2026-03-02T11:07:00Z'),
      missedAfterMs,
    );
    assert.deepEqual(fates(planned), ['skipped', 'skipped', 'fire', 'fire']);
    for (const tick of planned.slice(0, 2)) {
      assert.match(tick.reason ?? '', /beyond the catch-up limit/);
      assert.match(tick.reason ?? '', /the newest 2/);
    }
    assert.match(planned[2]?.reason ?? '', /fired 22 min late \(catch-up policy all\)/);
    assert.match(planned[3]?.reason ?? '', /fired 7 min late \(catch-up policy all\)/);
  });

  it('all with catchupMaxAgeSeconds: a missed tick older than the age limit is skipped even within the count', () => {
    // The count (3) would allow 10:30, 10:45 and 11:00; 10:30 is 37 min old, beyond the 30 min age.
    const planned = dueTicks(
      schedule('all', { catchupMaxCount: 3, catchupMaxAgeSeconds: 1800 }),
      at('2026-03-02T10:00:00Z'),
      at('2026-03-02T11:07:00Z'),
      missedAfterMs,
    );
    assert.deepEqual(fates(planned), ['skipped', 'skipped', 'fire', 'fire']);
    assert.match(planned[1]?.reason ?? '', /missed by 37 min/);
    assert.match(planned[1]?.reason ?? '', /at most 1800 s old/);
  });

  it('all: an on-time tick fires without a reason, besides the missed ones within the limit', () => {
    const planned = dueTicks(
      schedule('all', { catchupMaxCount: 1 }),
      at('2026-03-02T10:00:00Z'),
      at('2026-03-02T11:00:30Z'),
      missedAfterMs,
    );
    assert.deepEqual(fates(planned), ['skipped', 'skipped', 'fire', 'fire']);
    assert.match(planned[2]?.reason ?? '', /catch-up policy all/);
    assert.equal(planned[3]?.reason, undefined);
  });

  it('a tick exactly at `after` is excluded, a tick exactly at `now` is included', () => {
    const planned = dueTicks(schedule('latest'), at('2026-03-02T10:00:00Z'), at('2026-03-02T10:15:00Z'), missedAfterMs);
    assert.deepEqual(planned, [{ at: at('2026-03-02T10:15:00Z'), fate: 'fire' }]);
    assert.deepEqual(dueTicks(schedule('latest'), at('2026-03-02T10:15:00Z'), at('2026-03-02T10:15:00Z'), missedAfterMs), []);
    assert.deepEqual(isos(ticksBetween('*/15 * * * *', 'UTC', at('2026-03-02T10:00:00Z'), at('2026-03-02T10:30:00Z'), 10)), [
      '2026-03-02T10:15:00.000Z',
      '2026-03-02T10:30:00.000Z',
    ]);
  });

  it('nothing is due before the first tick', () => {
    assert.deepEqual(dueTicks(schedule('all'), at('2026-03-02T10:00:00Z'), at('2026-03-02T10:14:59Z'), missedAfterMs), []);
  });

  /** Works off a per-second backlog of 2 h (policy latest) pass by pass, as the scheduler does. */
  function workOffBacklog(missedAfter: number): { fired: PlannedTick[]; total: number; passes: number; last: PlannedTick[] } {
    const sched = schedule('latest', { cron: '* * * * * *' });
    const start = new Date(backlogNow.getTime() - 2 * 3_600_000);
    let after = start;
    let previous = start.getTime();
    let fired: PlannedTick[] = [];
    let total = 0;
    let passes = 0;
    let last: PlannedTick[] = [];
    for (;;) {
      const pass = dueTicks(sched, after, backlogNow, missedAfter);
      passes++;
      assert.ok(passes < 100, 'the backlog is worked off in a bounded number of passes');
      assert.ok(pass.length <= maxTicksPerPass, `a pass of ${pass.length} ticks`);
      for (const tick of pass) {
        assert.ok(tick.at.getTime() > previous, `ticks strictly increase (${tick.at.toISOString()})`);
        assert.ok(tick.at.getTime() <= backlogNow.getTime());
        previous = tick.at.getTime();
      }
      total += pass.length;
      fired = fired.concat(pass.filter((t) => t.fate === 'fire'));
      last = pass;
      if (pass.length < maxTicksPerPass) break;
      after = pass[pass.length - 1]?.at ?? after;
    }
    // Nothing is left after the final pass.
    assert.deepEqual(dueTicks(sched, backlogNow, backlogNow, missedAfter), []);
    return { fired, total, passes, last };
  }
  const backlogNow = at('2026-03-02T12:00:00Z');

  it('a long backlog (per second, 2 h): the first pass has at most maxTicksPerPass ticks, from 1 s after `after`, none firing', () => {
    const sched = schedule('latest', { cron: '* * * * * *' });
    const start = new Date(backlogNow.getTime() - 2 * 3_600_000);
    const first = dueTicks(sched, start, backlogNow, missedAfterMs);
    assert.ok(first.length > 0 && first.length <= maxTicksPerPass, `first pass has ${first.length} ticks`);
    assert.equal(first[0]?.at.getTime(), start.getTime() + 1000);
    for (let i = 1; i < first.length; i++) {
      assert.ok((first[i]?.at.getTime() ?? 0) > (first[i - 1]?.at.getTime() ?? 0), 'ticks strictly increase');
    }
    assert.ok(
      first.every((t) => t.fate === 'coalesced'),
      'no tick of a backlog pass fires (policy latest: all coalesced)',
    );
  });

  it('a long backlog worked off pass by pass: exactly one tick fires overall, the newest (when only it is on time)', () => {
    // missedAfterMs 500: of the per-second ticks only the one at `now` is on time.
    const { fired, total, passes, last } = workOffBacklog(500);
    assert.ok(passes > 1, 'more than one pass');
    assert.equal(total, 7200, 'every second of the 2 h is planned once');
    assert.equal(fired.length, 1, 'exactly one tick fires overall');
    assert.equal(fired[0]?.at.getTime(), backlogNow.getTime(), 'the newest tick (at now) fires');
    assert.equal(last[last.length - 1]?.fate, 'fire', 'the final pass ends with the firing tick');
  });

  it('a long backlog worked off pass by pass with missedAfterMs 60 s: only the on-time ticks of the last minute fire', () => {
    const { fired, total } = workOffBacklog(missedAfterMs);
    assert.equal(total, 7200);
    // The ticks at now - 60 s .. now are on time (not more than missedAfterMs old) and fire; no missed one does.
    assert.equal(fired.length, 61);
    assert.ok(fired.every((t) => backlogNow.getTime() - t.at.getTime() <= missedAfterMs && t.reason === undefined));
    assert.equal(fired[fired.length - 1]?.at.getTime(), backlogNow.getTime());
  });

  it('a backlog just above maxTicksPerPass: the first pass leaves the newest 100 for the next, which fires the newest', () => {
    // 1050 per-second ticks: the first pass plans the oldest 950, none firing; the second the rest.
    const sched = schedule('all', { cron: '* * * * * *', catchupMaxCount: 100, catchupMaxAgeSeconds: 86_400 });
    const now = at('2026-03-02T12:00:00Z');
    const start = new Date(now.getTime() - 1050 * 1000);
    const first = dueTicks(sched, start, now, missedAfterMs);
    assert.equal(first.length, 950);
    assert.ok(first.every((t) => t.fate === 'skipped'));
    const second = dueTicks(sched, first[first.length - 1]?.at ?? start, now, missedAfterMs);
    assert.equal(second.length, 100);
    assert.equal(second[second.length - 1]?.at.getTime(), now.getTime());
    // Policy all with a count of 100: all 100 left for the last pass fire (the 61 on-time ones too).
    assert.ok(second.every((t) => t.fate === 'fire'));
  });
});

describe('daylight saving time (2026)', () => {
  it('New York spring forward: 02:30 fires once on 2026-03-08, at 03:00 EDT (07:00Z); EST before, EDT after', () => {
    const ticks = isos(ticksBetween('30 2 * * *', 'America/New_York', at('2026-03-06T12:00:00Z'), at('2026-03-10T12:00:00Z'), 100));
    assert.deepEqual(ticks, [
      '2026-03-07T07:30:00.000Z', // 02:30 EST (UTC-5)
      '2026-03-08T07:00:00.000Z', // no 02:30 that day: 03:00 EDT, right after the gap
      '2026-03-09T06:30:00.000Z', // 02:30 EDT (UTC-4)
      '2026-03-10T06:30:00.000Z',
    ]);
    assert.equal(ticksOfDay('30 2 * * *', 'America/New_York', '2026-03-08T05:00:00Z').length, 1);
    assert.equal(nextTick('30 2 * * *', 'America/New_York', at('2026-03-07T12:00:00Z'))?.toISOString(), '2026-03-08T07:00:00.000Z');
  });

  it('New York fall back: 01:30 fires exactly once on 2026-11-01, at its first occurrence (05:30Z, EDT)', () => {
    // Local 2026-11-01 runs from 04:00Z (00:00 EDT) to 05:00Z next day (00:00 EST): 25 hours.
    const ticks = isos(ticksBetween('30 1 * * *', 'America/New_York', at('2026-11-01T04:00:00Z'), at('2026-11-02T05:00:00Z'), 100));
    assert.deepEqual(ticks, ['2026-11-01T05:30:00.000Z']);
    assert.equal(nextTick('30 1 * * *', 'America/New_York', at('2026-11-01T05:30:00Z'))?.toISOString(), '2026-11-02T06:30:00.000Z');
  });

  it('New York fall back: */15 in hour 1 fires each local wall time once (4 ticks, 05:00-05:45Z), not 8', () => {
    const ticks = isos(ticksBetween('*/15 1 * * *', 'America/New_York', at('2026-11-01T04:00:00Z'), at('2026-11-02T05:00:00Z'), 100));
    assert.deepEqual(ticks, [
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T05:15:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T05:45:00.000Z',
    ]);
    // nextTick skips the repeated 01:00-01:45 EST as well.
    assert.equal(nextTick('*/15 1 * * *', 'America/New_York', at('2026-11-01T05:45:00Z'))?.toISOString(), '2026-11-02T06:00:00.000Z');
  });

  it('New York fall back through dueTicks: the repeated hour plans no ticks', () => {
    const planned = dueTicks(
      schedule('all', { cron: '*/15 1 * * *', timezone: 'America/New_York' }),
      at('2026-11-01T05:45:00Z'),
      at('2026-11-01T06:50:00Z'),
      missedAfterMs,
    );
    assert.deepEqual(planned, []);
  });

  it('Berlin spring forward: 02:30 fires once on 2026-03-29, at 03:00 CEST (01:00Z)', () => {
    const ticks = isos(ticksBetween('30 2 * * *', 'Europe/Berlin', at('2026-03-27T12:00:00Z'), at('2026-03-30T12:00:00Z'), 100));
    assert.deepEqual(ticks, [
      '2026-03-28T01:30:00.000Z', // 02:30 CET (UTC+1)
      '2026-03-29T01:00:00.000Z', // 03:00 CEST, right after the gap
      '2026-03-30T00:30:00.000Z', // 02:30 CEST (UTC+2)
    ]);
    // Local 2026-03-29 runs from 23:00Z the day before; it has 23 hours.
    assert.deepEqual(ticksOfDay('30 2 * * *', 'Europe/Berlin', '2026-03-28T23:00:00Z'), ['2026-03-29T01:00:00.000Z']);
  });

  it('Berlin fall back: 02:30 fires once on 2026-10-25, at 00:30Z (CEST); */20 in hour 2 gives 3 ticks, not 6', () => {
    // Local 2026-10-25 runs from 22:00Z the day before (00:00 CEST) to 23:00Z (00:00 CET): 25 hours.
    const from = at('2026-10-24T22:00:00Z');
    const until = at('2026-10-25T23:00:00Z');
    assert.deepEqual(isos(ticksBetween('30 2 * * *', 'Europe/Berlin', from, until, 100)), ['2026-10-25T00:30:00.000Z']);
    assert.deepEqual(isos(ticksBetween('*/20 2 * * *', 'Europe/Berlin', from, until, 100)), [
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T00:20:00.000Z',
      '2026-10-25T00:40:00.000Z',
    ]);
  });

  it('repeatsWallTime: true for the second occurrence of a wall time, false for the first', () => {
    // New York 01:30 EDT (05:30Z) then 01:30 EST (06:30Z).
    assert.equal(repeatsWallTime(at('2026-11-01T05:30:00Z'), 'America/New_York'), false);
    assert.equal(repeatsWallTime(at('2026-11-01T06:30:00Z'), 'America/New_York'), true);
    assert.equal(repeatsWallTime(at('2026-11-01T06:00:00Z'), 'America/New_York'), true);
    // 02:00 EST (07:00Z) never happened before: past the fold.
    assert.equal(repeatsWallTime(at('2026-11-01T07:00:00Z'), 'America/New_York'), false);
    // Berlin 02:30 CEST (00:30Z) then 02:30 CET (01:30Z).
    assert.equal(repeatsWallTime(at('2026-10-25T00:30:00Z'), 'Europe/Berlin'), false);
    assert.equal(repeatsWallTime(at('2026-10-25T01:30:00Z'), 'Europe/Berlin'), true);
  });

  it('repeatsWallTime: false for ordinary instants, in UTC and in a zone without DST', () => {
    for (const iso of ['2026-01-15T12:00:00Z', '2026-07-15T03:30:00Z', '2026-11-01T06:30:00Z', '2026-10-25T01:30:00Z']) {
      assert.equal(repeatsWallTime(at(iso), 'UTC'), false, `UTC ${iso}`);
      assert.equal(repeatsWallTime(at(iso), 'Asia/Tokyo'), false, `Tokyo ${iso}`);
    }
    assert.equal(repeatsWallTime(at('2026-07-15T12:00:00Z'), 'America/New_York'), false);
    assert.equal(repeatsWallTime(at('2026-03-08T07:00:00Z'), 'America/New_York'), false);
  });

  it('utcOffsetMinutes: New York winter -300 and summer -240, UTC 0, Kolkata +330', () => {
    assert.equal(utcOffsetMinutes(at('2026-01-15T12:00:00Z'), 'America/New_York'), -300);
    assert.equal(utcOffsetMinutes(at('2026-07-15T12:00:00Z'), 'America/New_York'), -240);
    assert.equal(utcOffsetMinutes(at('2026-07-15T12:00:00Z'), 'UTC'), 0);
    assert.equal(utcOffsetMinutes(at('2026-07-15T12:00:00Z'), 'Asia/Kolkata'), 330);
    // Either side of the New York spring-forward instant (07:00Z).
    assert.equal(utcOffsetMinutes(at('2026-03-08T06:59:59Z'), 'America/New_York'), -300);
    assert.equal(utcOffsetMinutes(at('2026-03-08T07:00:00Z'), 'America/New_York'), -240);
  });
});

describe('describeLateness', () => {
  it('seconds below 2 minutes', () => {
    assert.equal(describeLateness(0), '0 s');
    assert.equal(describeLateness(90_000), '90 s');
    assert.equal(describeLateness(119_000), '119 s');
  });

  it('minutes from 2 minutes up to 2 hours', () => {
    assert.equal(describeLateness(120_000), '2 min');
    assert.equal(describeLateness(7 * 60_000), '7 min');
    assert.equal(describeLateness(90 * 60_000), '90 min');
  });

  it('hours with one decimal from 2 hours up to 2 days', () => {
    assert.equal(describeLateness(2 * 3_600_000), '2.0 h');
    assert.equal(describeLateness(5.5 * 3_600_000), '5.5 h');
    assert.equal(describeLateness(47 * 3_600_000), '47.0 h');
  });

  it('days with one decimal from 2 days', () => {
    assert.equal(describeLateness(2 * 86_400_000), '2.0 days');
    assert.equal(describeLateness(3.5 * 86_400_000), '3.5 days');
  });
});

describe('cronProblem', () => {
  it('accepts 5 fields and 6 fields (seconds first)', () => {
    assert.equal(cronProblem('*/15 * * * *', 'UTC'), undefined);
    assert.equal(cronProblem('0 */15 * * * *', 'Europe/Berlin'), undefined);
    assert.equal(cronProblem('  30 2 * * 1-5  ', 'America/New_York'), undefined);
  });

  it('refuses 4 fields and 7 fields, naming the expression', () => {
    const four = cronProblem('* * * *', 'UTC');
    assert.ok(four);
    assert.match(four, /"\* \* \* \*" is not a cron expression of 5 fields/);
    const seven = cronProblem('0 0 * * * * 2026', 'UTC');
    assert.ok(seven);
    assert.match(seven, /"0 0 \* \* \* \* 2026" is not a cron expression of 5 fields/);
  });

  it('refuses an invalid field value, naming the expression', () => {
    const problem = cronProblem('61 * * * *', 'UTC');
    assert.ok(problem);
    assert.match(problem, /"61 \* \* \* \*" is not a valid cron expression/);
  });

  it('refuses an unknown time zone, naming it', () => {
    assert.equal(cronProblem('*/15 * * * *', 'Mars/Olympus_Mons'), 'unknown time zone "Mars/Olympus_Mons"');
  });
});

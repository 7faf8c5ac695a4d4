import { Cron } from 'croner';
import type { CatchupPolicy } from '../db/types.js';

/**
 * Which cron ticks of a template are due, and what becomes of each: a pure function of the
 * schedule, the last tick on record and the time, so that every policy is tested with an injected
 * clock.
 *
 * Cron ticks come from croner in the template's IANA zone. Across daylight-saving changes cesar
 * relies on two croner behaviours and adds one rule of its own:
 * - spring forward: a local time inside the gap (02:30 when clocks jump from 02:00 to 03:00) does
 *   not exist; croner fires it once, at the first instant after the gap (03:00 local);
 * - fall back: a fixed local time that happens twice (01:30 when clocks go from 02:00 back to
 *   01:00) is fired by croner once, at its first occurrence;
 * - but for interval fields (every 15 minutes in hour 1) croner produces both occurrences of each
 *   repeated wall time; cesar drops the second (`repeatsWallTime`), so a local time fires once.
 */

export interface Schedule {
  cron: string;
  timezone: string;
  catchup: CatchupPolicy;
  /** Policy all: fire at most this many of the newest missed ticks. */
  catchupMaxCount: number;
  /** Policy all: never fire a missed tick older than this. */
  catchupMaxAgeSeconds: number;
}

export type TickFate = 'fire' | 'skipped' | 'coalesced';

export interface PlannedTick {
  at: Date;
  fate: TickFate;
  /** Why it does not fire (skipped, coalesced) or why it fires late. */
  reason?: string;
}

/** The most ticks one pass plans; a longer backlog is worked off over several passes. */
export const maxTicksPerPass = 1000;

/** Largest catchup_max_count (the schema's limit): a backlog pass always leaves this many for the next. */
const maxCatchupCount = 100;

/**
 * The due ticks of a schedule: those after `after` (the last tick on record, or when the template
 * became active) up to and including `now`, oldest first, with their fates. A tick more than
 * `missedAfterMs` old was missed (no scheduler ran at its time) and goes by the catch-up policy;
 * the others are on time and fire.
 */
export function dueTicks(schedule: Schedule, after: Date, now: Date, missedAfterMs: number): PlannedTick[] {
  const ticks = ticksBetween(schedule.cron, schedule.timezone, after, now, maxTicksPerPass + maxCatchupCount);
  if (ticks.length > maxTicksPerPass) {
    // A long backlog: the oldest ones cannot be among those that fire; plan them alone.
    const backlog = ticks.slice(0, ticks.length - maxCatchupCount);
    return backlog.map((at) => notFired(schedule, at, now));
  }
  const newest = ticks[ticks.length - 1];
  const missed = ticks.filter((t) => now.getTime() - t.getTime() > missedAfterMs);
  // Policy all: the newest catchupMaxCount missed ticks that are young enough fire.
  const catchUp = new Set(
    missed
      .filter((t) => now.getTime() - t.getTime() <= schedule.catchupMaxAgeSeconds * 1000)
      .slice(-schedule.catchupMaxCount)
      .map((t) => t.getTime()),
  );
  return ticks.map((at): PlannedTick => {
    const late = now.getTime() - at.getTime() > missedAfterMs;
    if (!late) return { at, fate: 'fire' };
    const catchesUp = (schedule.catchup === 'latest' && at === newest) || (schedule.catchup === 'all' && catchUp.has(at.getTime()));
    if (catchesUp) {
      return {
        at,
        fate: 'fire',
        reason: `fired ${describeLateness(now.getTime() - at.getTime())} late (catch-up policy ${schedule.catchup})`,
      };
    }
    return notFired(schedule, at, now);
  });
}

/** The fate of a missed tick that does not fire. */
function notFired(schedule: Schedule, at: Date, now: Date): PlannedTick {
  const lateBy = describeLateness(now.getTime() - at.getTime());
  switch (schedule.catchup) {
    case 'skip':
      return { at, fate: 'skipped', reason: `missed by ${lateBy} (no scheduler ran then); catch-up policy skip` };
    case 'latest':
      return { at, fate: 'coalesced', reason: 'missed; coalesced into the newest due tick (catch-up policy latest)' };
    case 'all':
      return {
        at,
        fate: 'skipped',
        reason: `missed by ${lateBy}; beyond the catch-up limit (the newest ${schedule.catchupMaxCount}, at most ${schedule.catchupMaxAgeSeconds} s old)`,
      };
  }
}

/** Ticks in (after, until], oldest first, at most `limit`, each local wall time once. */
export function ticksBetween(cron: string, timezone: string, after: Date, until: Date, limit: number): Date[] {
  const job = new Cron(cron, { timezone, paused: true });
  const ticks: Date[] = [];
  let cursor = after;
  while (ticks.length < limit) {
    const next = job.nextRun(cursor);
    if (!next || next.getTime() > until.getTime()) break;
    if (!repeatsWallTime(next, timezone)) ticks.push(next);
    cursor = next;
  }
  return ticks;
}

/** The next tick after `from` (each local wall time once), or undefined when there is none. */
export function nextTick(cron: string, timezone: string, from: Date): Date | undefined {
  const job = new Cron(cron, { timezone, paused: true });
  let cursor = from;
  for (let i = 0; i < 1000; i++) {
    const next = job.nextRun(cursor);
    if (!next) return undefined;
    if (!repeatsWallTime(next, timezone)) return next;
    cursor = next;
  }
  return undefined;
}

/**
 * True when the local wall time of `at` already happened shortly before, in the fold a fall-back
 * change makes (01:15 EST after 01:15 EDT). Zones move clocks back by at most a few hours.
 */
export function repeatsWallTime(at: Date, timezone: string): boolean {
  const offsetNow = utcOffsetMinutes(at, timezone);
  const offsetBefore = utcOffsetMinutes(new Date(at.getTime() - 6 * 3_600_000), timezone);
  if (offsetBefore <= offsetNow) return false;
  // Clocks went back by `shift` within the last 6 hours; the same wall time was `shift` earlier,
  // if that instant was still before the change.
  const shiftMs = (offsetBefore - offsetNow) * 60_000;
  return utcOffsetMinutes(new Date(at.getTime() - shiftMs), timezone) === offsetBefore;
}

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at an instant, in minutes (New York in winter: -300). */
export function utcOffsetMinutes(at: Date, timezone: string): number {
  let format = offsetFormats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeZoneName: 'longOffset' });
    offsetFormats.set(timezone, format);
  }
  const name = format.formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  if (!match) return 0; // "GMT": UTC itself
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

export function describeLateness(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 2 * 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 2 * 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} days`;
}

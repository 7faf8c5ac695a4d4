/**
 * ISO 8601 times as users type them (`2026-12-01T09:00:00Z`, `2026-12-01T09:00+01:00`,
 * `2026-12-01`), refused unless every field is a real calendar value: JavaScript's Date would
 * silently turn 2026-02-30 into March 2.
 */
const isoTime = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-](\d{2}):?(\d{2}))?$/i;

/** The time, or undefined when the text is not an ISO 8601 time with real calendar fields. */
export function parseIsoTime(text: string): Date | undefined {
  const m = isoTime.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) => (v === undefined ? 0 : Number(v))) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return undefined;
  const date = new Date(text.trim());
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

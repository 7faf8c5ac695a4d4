import { Cron } from 'croner';
import { quote } from '../text.js';

/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in an IANA
 * time zone. Returns the problem in words, or undefined when the expression is valid.
 */
export function cronProblem(expression: string, timezone: string): string | undefined {
  if (!isTimeZone(timezone)) return `unknown time zone ${quote(timezone)}`;
  if (expression.trim().split(/\s+/).length !== 5) {
    return `${quote(expression)} is not a 5-field cron expression (minute hour day month weekday)`;
  }
  try {
    new Cron(expression, { timezone, paused: true });
    return undefined;
  } catch (err) {
    return `${quote(expression)} is not a valid cron expression: ${(err as Error).message}`;
  }
}

/** The first slot strictly after `from`, or undefined for an invalid expression. */
export function nextRun(expression: string, timezone: string, from: Date): Date | undefined {
  if (cronProblem(expression, timezone)) return undefined;
  return new Cron(expression, { timezone, paused: true }).nextRun(from) ?? undefined;
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

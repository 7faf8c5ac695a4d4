import { Cron } from 'croner';
import { nextTick } from '../scheduler/slots.js';
import { quote } from '../text.js';

/**
 * Cron expressions of five fields (minute hour day-of-month month day-of-week) or six (a seconds
 * field first), evaluated in an IANA time zone. Returns the problem in words, or undefined when
 * the expression is valid.
 */
export function cronProblem(expression: string, timezone: string): string | undefined {
  if (!isTimeZone(timezone)) return `unknown time zone ${quote(timezone)}`;
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    return `${quote(expression)} is not a cron expression of 5 fields (minute hour day month weekday) or 6 (seconds first)`;
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
  return nextTick(expression, timezone, from);
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

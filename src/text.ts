/**
 * User input inside messages and log lines. Whatever a user types (a job type, a queue, a key, a
 * payload field, a flag value) is quoted and its control characters escaped, so that one error is
 * always one line and no input can forge a log line or move the terminal's cursor.
 */

// C0 and C1 control characters, DEL, and the Unicode line and paragraph separators.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** The text with every control character written as an escape (\n, \u001b, ...). */
export function escapeControl(text: string): string {
  return text.replace(controlCharacters, (c) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A piece of user input, for a message: in double quotes, escaped, and cut at `max` characters. */
export function quote(value: unknown, max = 200): string {
  const text = String(value);
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return `"${escapeControl(cut.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))}"`;
}

/**
 * Text a program produced (a handler's error message or stack) made fit for a PostgreSQL text
 * column: NUL, which PostgreSQL cannot store, written as \0, and the length capped.
 */
export function storableText(text: string, max: number): string {
  const cleaned = text.includes('\0') ? text.replaceAll('\0', '\\0') : text;
  return cleaned.length > max ? `${cleaned.slice(0, max)}… (${cleaned.length - max} more characters)` : cleaned;
}

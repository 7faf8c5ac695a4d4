import * as v from 'valibot';
import { quote } from './text.js';

/**
 * How a failed valibot check reads to an operator: one line naming the field, the same for job
 * payloads at enqueue and for the API's request parts.
 */

export const objectTypes = new Set(['object', 'strict_object', 'loose_object', 'object_with_rest']);

/** One line naming the field at fault: "limit must be an integer from 1 to 1000", `unknown field "x"; allowed: ...`. */
export function describeIssue(schema: v.GenericSchema, issue: v.BaseIssue<unknown>, part: string): { message: string; field: string } {
  const path = v.getDotPath(issue);
  const field = path ?? part;
  if (objectTypes.has(issue.type)) {
    if (!path) return { message: `the ${part} must be a JSON object`, field };
    if (issue.expected === 'never') {
      const keys = (issue.path ?? []).map((item) => String(item.key));
      const allowed = Object.keys(entriesAt(schema, keys.slice(0, -1)));
      return { message: `unknown field ${quote(path)}${allowed.length > 0 ? `; allowed: ${allowed.join(', ')}` : ''}`, field };
    }
    if (issue.received === 'undefined') return { message: `${field} is required`, field };
  }
  // A message written in the schema ("must be ...") reads after the field's name; valibot's own stands alone.
  return { message: /^must /.test(issue.message) ? `${field} ${issue.message}` : `${field}: ${issue.message}`, field };
}

/** The entries of the object schema reached by following keys (through optional, nullable and pipe wrappers). */
function entriesAt(schema: v.GenericSchema, keys: string[]): Record<string, unknown> {
  let current: unknown = schema;
  const unwrap = (s: unknown): unknown => {
    const node = s as { wrapped?: unknown; pipe?: unknown[] };
    if (node?.wrapped) return unwrap(node.wrapped);
    if (Array.isArray(node?.pipe) && node.pipe[0] !== s) return unwrap(node.pipe[0]);
    return s;
  };
  for (const key of keys) current = (unwrap(current) as { entries?: Record<string, unknown> })?.entries?.[key];
  return (unwrap(current) as { entries?: Record<string, unknown> })?.entries ?? {};
}

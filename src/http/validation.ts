import type { FastifySchemaCompiler, FastifyTypeProvider } from 'fastify';
import * as v from 'valibot';
import { InputError } from '../errors.js';

/**
 * Route schemas (`schema.params`, `schema.querystring`, `schema.body`) are valibot schemas: the same
 * kind of declaration as job payloads, checked here, typed in handlers through this type provider,
 * and converted to JSON Schema for the OpenAPI document.
 */
export interface ValibotTypeProvider extends FastifyTypeProvider {
  readonly validator: this['schema'] extends v.GenericSchema ? v.InferOutput<this['schema']> : unknown;
  readonly serializer: this['schema'] extends v.GenericSchema ? v.InferInput<this['schema']> : unknown;
}

const objectTypes = new Set(['object', 'strict_object', 'loose_object', 'object_with_rest']);

/** What a route part is called in messages and in `field` when the whole part is at fault. */
const partNames: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/**
 * Fastify's validator compiler for valibot schemas. A valid part is replaced by the schema's output
 * (so `:id` arrives as a number); an invalid one fails the request with an InputError naming the
 * field, which the error handler answers with 400.
 */
export const valibotValidatorCompiler: FastifySchemaCompiler<v.GenericSchema> = ({ schema, httpPart }) => {
  const part = partNames[httpPart ?? ''] ?? httpPart ?? 'request';
  // valibot takes an array for an object (with keys "0", "1", ...); a JSON body must be an object.
  const wantsObject = objectTypes.has(schema.type);
  return (data: unknown) => {
    if (wantsObject && Array.isArray(data)) return { error: new InputError(`the ${part} must be a JSON object`, undefined, part) };
    const result = v.safeParse(schema, data);
    if (result.success) return { value: result.output };
    const { message, field } = describeIssue(schema, result.issues[0], part);
    return { error: new InputError(message, undefined, field) };
  };
};

/** One line naming the field at fault: "limit must be an integer from 1 to 1000", `unknown field "x"; allowed: ...`. */
export function describeIssue(schema: v.GenericSchema, issue: v.BaseIssue<unknown>, part: string): { message: string; field: string } {
  const path = v.getDotPath(issue);
  const field = path ?? part;
  if (objectTypes.has(issue.type)) {
    if (!path) return { message: `the ${part} must be a JSON object`, field };
    if (issue.expected === 'never') {
      const keys = (issue.path ?? []).map((item) => String(item.key));
      const allowed = Object.keys(entriesAt(schema, keys.slice(0, -1)));
      return { message: `unknown field "${path}"${allowed.length > 0 ? `; allowed: ${allowed.join(', ')}` : ''}`, field };
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

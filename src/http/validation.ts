import type { FastifySchemaCompiler, FastifyTypeProvider } from 'fastify';
import * as v from 'valibot';
import { InputError } from '../errors.js';
import { describeIssue, objectTypes } from '../validation.js';

/**
 * Route schemas (`schema.params`, `schema.querystring`, `schema.body`) are valibot schemas: the same
 * kind of declaration as job payloads, checked here, typed in handlers through this type provider,
 * and converted to JSON Schema for the OpenAPI document.
 */
export interface ValibotTypeProvider extends FastifyTypeProvider {
  readonly validator: this['schema'] extends v.GenericSchema ? v.InferOutput<this['schema']> : unknown;
  readonly serializer: this['schema'] extends v.GenericSchema ? v.InferInput<this['schema']> : unknown;
}

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

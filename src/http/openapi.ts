import { toJsonSchema } from '@valibot/to-json-schema';
import type { FastifyInstance } from 'fastify';
import type * as v from 'valibot';
import type { JobTypeSpec } from '../queue/job-types.js';
import type { ResponseDoc } from './app.js';
import { type RouteInfo, routesOf } from './routes.js';

export type JsonSchema = Record<string, unknown>;

/** A JSON Schema with the component schemas it refers to (`#/components/schemas/NAME`). */
export interface JsonSchemaDoc {
  schema: JsonSchema;
  components?: Record<string, JsonSchema>;
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: OpenApiInfo;
  paths: Record<string, Record<string, JsonSchema>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
}

const errorRef = { $ref: '#/components/schemas/error' };

/** The error every failure answers with. */
const errorSchema: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'stable, snake_case: invalid_input, unauthorized, not_found, ...' },
        message: { type: 'string', description: 'one line saying what to do next' },
        field: { type: 'string', description: 'the input field at fault (400 only), e.g. "limit" or "payload.sleep_ms"' },
      },
    },
  },
};

/**
 * A valibot schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect). Bodies are described as they are
 * sent (the schema's input); path and query parameters as what their text means (its output: the
 * integer that "17" is), since OpenAPI describes a parameter's value, not its serialization.
 */
function jsonSchemaOf(schema: v.GenericSchema, typeMode: 'input' | 'output' = 'input'): JsonSchema {
  // Checks JSON Schema cannot say (custom checks, transformations) are left out: the API still applies them.
  const { $schema: _, ...rest } = toJsonSchema(schema, { target: 'draft-2020-12', typeMode, errorMode: 'ignore' }) as JsonSchema;
  return rest;
}

/** "/api/jobs/:id/retry" → "/api/jobs/{id}/retry" */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)(\((?:\\.|[^)])*\))?/g, '{$1}').replace(/\*/g, '{wildcard}');
}

function parameters(route: RouteInfo): JsonSchema[] {
  const found: JsonSchema[] = [];
  const add = (where: 'path' | 'query', schema: unknown) => {
    if (schema === undefined) return;
    const json = jsonSchemaOf(schema as v.GenericSchema, 'output') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(json.properties ?? {})) {
      const { description, ...propertySchema } = property;
      found.push({
        name,
        in: where,
        required: where === 'path' || (json.required ?? []).includes(name),
        ...(description ? { description } : {}),
        schema: propertySchema,
      });
    }
  };
  add('path', route.schema.params);
  const documented = new Set(found.map((p) => p.name));
  for (const [, name] of openApiPath(route.url).matchAll(/\{([^}]+)\}/g)) {
    if (!documented.has(name!)) found.push({ name, in: 'path', required: true, schema: { type: 'string' } });
  }
  add('query', route.schema.querystring);
  return found;
}

function responses(route: RouteInfo, bodyLimit: number): Record<string, JsonSchema> {
  const docs = route.config.docs;
  const described: Record<number, string | ResponseDoc> = { ...docs?.responses };
  const hasInput = [route.schema.params, route.schema.querystring, route.schema.body].some((s) => s !== undefined);
  if (hasInput) described[400] ??= 'invalid JSON, or a field that is not valid (named in error.field)';
  if (route.config.mutation) described[401] ??= 'missing or wrong bearer token';
  if (route.schema.body !== undefined) described[413] ??= `the body is over ${Math.round(bodyLimit / 1024)} KiB`;
  const out: Record<string, JsonSchema> = {};
  for (const [status, doc] of Object.entries(described)) {
    if (typeof doc === 'object') {
      out[status] = { description: doc.description, content: { 'application/json': doc.schema ? { schema: doc.schema } : {} } };
    } else if (Number(status) >= 400) {
      out[status] = { description: doc, content: { 'application/json': { schema: errorRef } } };
    } else {
      out[status] = { description: doc, content: { [docs?.contentType ?? 'application/json']: {} } };
    }
  }
  if (Object.keys(out).length === 0) out.default = { description: 'not documented' };
  return out;
}

/**
 * The OpenAPI 3.1 document of an app's routes (as collected by its onRoute hook): paths and methods,
 * summaries and answers from each route's `config.docs`, parameters and bodies converted from its
 * valibot schemas, the bearer token on mutations.
 */
export function buildOpenApi(app: FastifyInstance, info: OpenApiInfo): OpenApiDocument {
  const bodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024;
  const routes = routesOf(app);
  const schemas: Record<string, JsonSchema> = { error: errorSchema };
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const docs = route.config.docs;
    const path = openApiPath(route.url);
    const operation: JsonSchema = {
      operationId: `${route.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(docs?.summary ? { summary: docs.summary } : {}),
      ...(docs?.description ? { description: docs.description } : {}),
    };
    const params = parameters(route);
    if (params.length > 0) operation.parameters = params;
    if (route.schema.body !== undefined || docs?.body) {
      const body = docs?.body ?? { schema: jsonSchemaOf(route.schema.body as v.GenericSchema) };
      Object.assign(schemas, body.components);
      operation.requestBody = {
        required: !route.config.optionalBody,
        content: { 'application/json': { schema: body.schema } },
      };
    }
    operation.responses = responses(route, bodyLimit);
    if (route.config.mutation) operation.security = [{ bearer: [] }];
    paths[path] ??= {};
    paths[path]![route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'CESAR_API_TOKEN, or the api-token file in CESAR_HOME' } },
    },
  };
}

/**
 * The body of POST /api/jobs documented per job type: one component schema per type (the common
 * fields, `type` fixed to its name, `payload` that type's schema), chosen by `type`.
 */
export function jobBodyByType(body: v.GenericSchema, specs: readonly JobTypeSpec[]): JsonSchemaDoc {
  const base = jsonSchemaOf(body) as JsonSchema & { properties?: Record<string, JsonSchema> };
  if (specs.length === 0) return { schema: base };
  const components: Record<string, JsonSchema> = {};
  const mapping: Record<string, string> = {};
  for (const spec of specs) {
    const name = `new_job.${spec.name}`;
    components[name] = {
      ...base,
      title: spec.name,
      description: spec.description,
      properties: {
        ...base.properties,
        type: { const: spec.name },
        payload: { ...jsonSchemaOf(spec.payload), description: `the ${spec.name} payload` },
      },
    };
    mapping[spec.name] = `#/components/schemas/${name}`;
  }
  return {
    schema: { oneOf: Object.values(mapping).map(($ref) => ({ $ref })), discriminator: { propertyName: 'type', mapping } },
    components,
  };
}

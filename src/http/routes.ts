import type { FastifyContextConfig, FastifyInstance, FastifySchema, RouteOptions } from 'fastify';

/** A route as registered on an app: what 405 answers and the OpenAPI document are built from. */
export interface RouteInfo {
  method: string;
  /** Fastify's pattern: "/api/jobs/:id". */
  url: string;
  schema: FastifySchema;
  config: FastifyContextConfig;
  /** Matches a request path (without its query string). */
  pattern: RegExp;
}

/** Every route of an app, collected by its onRoute hook (one entry per method). */
class RouteTable {
  private readonly routes: RouteInfo[] = [];

  add(options: RouteOptions): void {
    const methods = Array.isArray(options.method) ? options.method : [options.method];
    for (const method of methods) {
      this.routes.push({
        method: method.toUpperCase(),
        url: options.url,
        schema: options.schema ?? {},
        config: (options.config ?? {}) as FastifyContextConfig,
        pattern: patternOf(options.url),
      });
    }
  }

  list(): readonly RouteInfo[] {
    return this.routes;
  }

  /** The methods some route accepts on this path: non-empty when a request was refused for its method only. */
  methodsFor(path: string): string[] {
    return [...new Set(this.routes.filter((r) => r.pattern.test(path)).map((r) => r.method))].sort();
  }
}

/**
 * A regular expression for a Fastify URL pattern: `:name` (or `:name(regex)`) stands for a path
 * segment, `*` for the rest. Only used to tell 405 from 404 after Fastify's router found nothing.
 */
function patternOf(url: string): RegExp {
  let source = '';
  for (let i = 0; i < url.length; ) {
    const rest = url.slice(i);
    const param = /^:[A-Za-z0-9_]+(\((?:\\.|[^)])*\))?/.exec(rest);
    if (param) {
      source += param[1] ? `(?:${param[1].slice(1, -1).replace(/^\^|\$$/g, '')})` : '[^/]+';
      i += param[0].length;
    } else if (rest[0] === '*') {
      source += '.*';
      i += 1;
    } else {
      source += rest[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i += 1;
    }
  }
  return new RegExp(`^${source}$`);
}

const tables = new WeakMap<FastifyInstance, RouteTable>();

/** Collect the routes of app from now on (createHttpApp calls this before any route is added). */
export function collectRoutes(app: FastifyInstance): RouteTable {
  const table = new RouteTable();
  tables.set(app, table);
  app.addHook('onRoute', (route) => table.add(route as RouteOptions));
  return table;
}

/** The routes registered on an app made by createHttpApp, in registration order. */
export function routesOf(app: FastifyInstance): readonly RouteInfo[] {
  const table = tables.get(app);
  if (!table) throw new Error('routesOf: this app was not made by createHttpApp');
  return table.list();
}

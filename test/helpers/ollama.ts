import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for Ollama on an ephemeral port: its routes, its JSON and NDJSON shapes and its
 * error bodies, with deterministic answers ("<model> says: <prompt reversed>") and switchable
 * faults. Not a fake of cesar's code: cesar's real client talks HTTP to it.
 */

export interface OllamaFaults {
  /** Delay before answering, ms. */
  latencyMs: number;
  /** Answer the next n requests with 503. */
  unavailable: number;
  /** Break off streamed answers after the first line. */
  dropStream: boolean;
  /** Send a line that is not JSON in streamed answers. */
  malformedLine: boolean;
}

export interface OllamaStandIn {
  url: string;
  /** Requests by path, in order. */
  requests: Array<{ path: string; body: unknown }>;
  faults: OllamaFaults;
  /** Model name -> digest; a model not here answers 404 "not found". */
  models: Map<string, string>;
  /** Change a model's digest, as a new `ollama pull` does. */
  repull(model: string): void;
  close(): Promise<void>;
}

const digestOf = (model: string, generation: number): string => createHash('sha256').update(`${model}#${generation}`).digest('hex');

export function answerFor(model: string, prompt: string, system = ''): string {
  return `${model} says: ${[...prompt].reverse().join('')}${system ? ` (${system})` : ''}`;
}

export async function startOllamaStandIn(models: string[] = ['llama3.1:8b', 'nomic-embed-text']): Promise<OllamaStandIn> {
  const generations = new Map<string, number>();
  const state: OllamaStandIn = {
    url: '',
    requests: [],
    faults: { latencyMs: 0, unavailable: 0, dropStream: false, malformedLine: false },
    models: new Map(models.map((m) => [m, digestOf(m, 0)])),
    repull(model) {
      const next = (generations.get(model) ?? 0) + 1;
      generations.set(model, next);
      state.models.set(model, digestOf(model, next));
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid JSON' }));
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    state.requests.push({ path, body });
    if (state.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, state.faults.latencyMs));
    if (state.faults.unavailable > 0) {
      state.faults.unavailable--;
      return void res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable');
    }
    const json = (status: number, value: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (path === '/api/version') return void json(200, { version: '0.5.7' });
    if (path === '/api/tags') {
      return void json(200, {
        models: [...state.models].map(([name, digest]) => ({
          name,
          model: name,
          modified_at: '2026-11-01T00:00:00Z',
          size: 4_920_753_328,
          digest,
          details: { format: 'gguf', family: 'llama' },
        })),
      });
    }
    const model = String(body.model ?? '');
    if (!['/api/generate', '/api/chat', '/api/embed'].includes(path)) return void res.writeHead(404).end('404 page not found');
    if (!state.models.has(model)) return void json(404, { error: `model "${model}" not found, try pulling it first` });
    const usage = {
      total_duration: 1_234_567,
      load_duration: 1_000,
      prompt_eval_count: 7,
      prompt_eval_duration: 2_000,
      eval_count: 11,
      eval_duration: 3_000,
    };
    if (path === '/api/embed') {
      const inputs = Array.isArray(body.input) ? (body.input as string[]) : [String(body.input ?? '')];
      return void json(200, { model, embeddings: inputs.map((s) => [s.length, 0.5, -0.25]), ...usage });
    }
    const prompt =
      path === '/api/chat'
        ? String((body.messages as Array<{ content: string }> | undefined)?.at(-1)?.content ?? '')
        : String(body.prompt ?? '');
    const answer = answerFor(model, prompt, typeof body.system === 'string' ? body.system : '');
    const piece = (content: string, done: boolean) =>
      path === '/api/chat'
        ? { model, created_at: '2026-12-06T00:00:00Z', message: { role: 'assistant', content }, done }
        : { model, created_at: '2026-12-06T00:00:00Z', response: content, done };
    if (body.stream === false) return void json(200, { ...piece(answer, true), done_reason: 'stop', ...usage });
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const words = answer.split(/(?<= )/);
    res.write(`${JSON.stringify(piece(words[0]!, false))}\n`);
    if (state.faults.dropStream) {
      // The first line reaches the client, then the connection breaks.
      await new Promise((r) => setTimeout(r, 50));
      return void res.destroy();
    }
    if (state.faults.malformedLine) res.write('{"response": "half a line\n');
    for (const word of words.slice(1)) res.write(`${JSON.stringify(piece(word, false))}\n`);
    res.end(`${JSON.stringify({ ...piece('', true), done_reason: 'stop', ...usage })}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

/** A loopback port nothing listens on (fetch refuses well-known "bad" ports such as 1, so use this). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

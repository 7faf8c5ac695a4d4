import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { LlmError, OllamaClient } from '../../src/llm/client.js';
import { answerFor, closedPort, type OllamaStandIn, startOllamaStandIn } from '../helpers/ollama.js';

async function failure(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof LlmError, `an LlmError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

describe('the Ollama client against a local stand-in', () => {
  let ollama: OllamaStandIn;
  let client: OllamaClient;
  before(async () => {
    ollama = await startOllamaStandIn();
    client = new OllamaClient({ baseUrl: ollama.url, timeoutMs: 2_000, maxAttempts: 3, backoffMs: 1 });
  });
  after(() => ollama.close());
  beforeEach(() => {
    ollama.faults = { latencyMs: 0, unavailable: 0, dropStream: false, malformedLine: false };
    ollama.requests.length = 0;
  });

  it('reads the version and the models with their digests', async () => {
    assert.equal(await client.version(), '0.5.7');
    const models = await client.tags();
    assert.deepEqual(
      models.map((m) => m.name),
      ['llama3.1:8b', 'nomic-embed-text'],
    );
    assert.match(models[0]!.digest, /^[0-9a-f]{64}$/);
  });

  it('generates and chats, whole or streamed piece by piece, to the same text', async () => {
    const whole = await client.generate({ model: 'llama3.1:8b', prompt: 'hello there', system: 'terse' });
    assert.equal(whole.response, answerFor('llama3.1:8b', 'hello there', 'terse'));
    assert.equal(whole.eval_count, 11);
    const pieces: string[] = [];
    const streamed = await client.generate(
      { model: 'llama3.1:8b', prompt: 'hello there', system: 'terse' },
      { onText: (t) => pieces.push(t) },
    );
    assert.equal(streamed.response, whole.response);
    assert.ok(pieces.length > 1, 'more than one piece');
    assert.equal(pieces.join(''), whole.response);
    assert.equal(ollama.requests.at(-1)?.body && (ollama.requests.at(-1)!.body as { stream: boolean }).stream, true);

    const chat = await client.chat({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'abc' }] });
    assert.deepEqual(chat.message, { role: 'assistant', content: answerFor('llama3.1:8b', 'abc') });
    const chatPieces: string[] = [];
    const chatStreamed = await client.chat(
      { model: 'llama3.1:8b', messages: [{ role: 'user', content: 'abc def' }] },
      { onText: (t) => chatPieces.push(t) },
    );
    assert.equal(chatStreamed.message.content, answerFor('llama3.1:8b', 'abc def'));
    const embedded = await client.embed({ model: 'nomic-embed-text', input: ['ab', 'abcd'] });
    assert.deepEqual(embedded.embeddings, [
      [2, 0.5, -0.25],
      [4, 0.5, -0.25],
    ]);
  });

  it('a model that is not pulled is one operator line, after one request', async () => {
    const error = await failure(client.generate({ model: 'mistral:7b', prompt: 'x' }));
    assert.equal(error.kind, 'model_not_found');
    assert.equal(error.message, `Ollama at ${ollama.url} has no model mistral:7b: pull it with \`ollama pull mistral:7b\``);
    assert.equal(ollama.requests.length, 1, 'no retry on 404');
  });

  it('retries 503 a bounded number of times: two 503s then success; three 503s fail as server_error', async () => {
    ollama.faults.unavailable = 2;
    const ok = await client.generate({ model: 'llama3.1:8b', prompt: 'x' });
    assert.equal(ok.response, answerFor('llama3.1:8b', 'x'));
    assert.equal(ollama.requests.length, 3);
    ollama.requests.length = 0;
    ollama.faults.unavailable = 3;
    const error = await failure(client.generate({ model: 'llama3.1:8b', prompt: 'x' }));
    assert.equal(error.kind, 'server_error');
    assert.match(error.message, /answered 503/);
    assert.equal(ollama.requests.length, 3);
  });

  it('a dropped stream and a malformed line fail as bad_response, without sending the request again', async () => {
    ollama.faults.dropStream = true;
    const dropped = await failure(client.generate({ model: 'llama3.1:8b', prompt: 'one two three' }, { onText: () => undefined }));
    assert.equal(dropped.kind, 'bad_response');
    assert.equal(ollama.requests.length, 1);
    ollama.faults.dropStream = false;
    ollama.faults.malformedLine = true;
    const malformed = await failure(client.generate({ model: 'llama3.1:8b', prompt: 'one two three' }, { onText: () => undefined }));
    assert.equal(malformed.kind, 'bad_response');
    assert.match(malformed.message, /a streamed line is not JSON/);
  });

  it('times out through AbortSignal, and an unreachable server is named', async () => {
    ollama.faults.latencyMs = 500;
    const slow = new OllamaClient({ baseUrl: ollama.url, timeoutMs: 100, maxAttempts: 1, backoffMs: 1 });
    const timeout = await failure(slow.version());
    assert.equal(timeout.kind, 'timeout');
    assert.match(timeout.message, /did not answer within 100 ms/);

    const port = await closedPort();
    const down = new OllamaClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 1_000, maxAttempts: 2, backoffMs: 1 });
    const unreachable = await failure(down.tags());
    assert.equal(unreachable.kind, 'unreachable');
    assert.equal(unreachable.message, `Ollama is unreachable at http://127.0.0.1:${port} (ECONNREFUSED)`);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cesar } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

/** Every key of a JSON value, at any depth (payloads are the user's own: not walked). */
function keys(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => keys(v, `${path}[${i}]`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [`${path}.${k}`, ...(k === 'payload' ? [] : keys(v, `${path}.${k}`))]);
}

describe('--json output', () => {
  const t = useTestDatabase();

  it('is snake_case in every command', async () => {
    const env = () => ({ DATABASE_URL: t.url });
    const enqueued = await cesar(['enqueue', 'canary', '--json', '--payload', '{"fail_attempts":1}'], env());
    assert.equal(enqueued.exitCode, 0, enqueued.stderr);
    const id = String(JSON.parse(enqueued.stdout).id);
    const commands = [
      ['migrate', '--status', '--json'],
      ['migrate', '--json'],
      ['verify', '--json'],
      ['status', '--json'],
      ['jobs', 'list', '--json'],
      ['jobs', 'show', id, '--json'],
      ['jobs', 'cancel', id, '--json'],
      ['jobs', 'retry', id, '--json'],
    ];
    const camel: string[] = [];
    for (const args of [['enqueue', 'canary', '--json'], ...commands]) {
      const r = await cesar(args, env());
      assert.ok(r.exitCode === 0 || (args[0] === 'verify' && r.exitCode === 1), `${args.join(' ')}: ${r.stderr}`);
      camel.push(
        ...keys(JSON.parse(r.stdout))
          .filter((k) => /[A-Z]/.test(k.split('.').pop()!))
          .map((k) => `${args.join(' ')}: ${k}`),
      );
    }
    assert.deepEqual(camel, []);
  });
});

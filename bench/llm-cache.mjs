#!/usr/bin/env node
// bench/llm-cache.mjs: the LLM response cache (issue 15). A local Ollama stand-in in a child process
// (/api/tags with one model and a fixed digest, /api/generate non-streamed with a fixed small JSON
// answer) and a freshly migrated database whose llm_cache is filled with --entries entries by one
// INSERT ... SELECT generate_series, keyed in SQL exactly as src/llm/cache.ts keys them (checked
// against requestKey and cacheKey from dist before the clock starts), so lookups find real entries
// by the real key. Measured: (1) hits through cachedAsk as it is (each ask also calls /api/tags for
// the model's digest), and /api/tags alone; (2) the database part alone: the hit statement (hitSql)
// by key; and, between the two, a hit with the digest already known (request key, cache key, hitSql:
// what a cached digest would leave); all at concurrency 1 and --concurrency, lookups/s and p50/p99
// latency; (3) a miss: cachedAsk for new prompts against the same requests sent straight to the
// stand-in with client.generate (no cache), interleaved, at concurrency 1, and the insert
// (storeAnswer) alone. The stand-in runs in a child process so that its CPU is not the client's
// (both still share the machine's cores with PostgreSQL).
// Prints one JSON document.
//   node bench/llm-cache.mjs --database-url postgres://postgres@127.0.0.1:5432/postgres \
//     [--entries 100000] [--lookups 20000] [--concurrency 8] [--misses 2000]
import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { prng } from './prng.mjs';
import { processCpuMs } from './proc-cpu.mjs';
import { openThrowawayDatabase } from './throwaway-db.mjs';

const args = { entries: 100_000, lookups: 20_000, concurrency: 8, misses: 2000, databaseUrl: process.env.DATABASE_URL, serve: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--database-url') args.databaseUrl = argv[++i];
  else if (argv[i] === '--entries') args.entries = Number(argv[++i]);
  else if (argv[i] === '--lookups') args.lookups = Number(argv[++i]);
  else if (argv[i] === '--concurrency') args.concurrency = Number(argv[++i]);
  else if (argv[i] === '--misses') args.misses = Number(argv[++i]);
  else if (argv[i] === '--serve') args.serve = true;
  else if (argv[i] !== '--json') {
    process.stderr.write(`unknown argument ${argv[i]}\n`);
    process.exit(64);
  }
}
for (const name of ['entries', 'lookups', 'concurrency', 'misses']) {
  if (!Number.isInteger(args[name]) || args[name] < 1) {
    process.stderr.write(`--${name} must be a positive integer\n`);
    process.exit(64);
  }
}

/** The one model the stand-in has, and its digest (64 hex digits, as Ollama's). */
const model = 'bench-model:latest';
const digest = 'b3c4a1f0'.repeat(8);
/** The stand-in's answer to every prompt. */
const answerBody = {
  model,
  created_at: '2026-12-06T00:00:00Z',
  response: 'A fixed answer from the stand-in.',
  done: true,
  done_reason: 'stop',
  total_duration: 1_234_567,
  load_duration: 1_000,
  prompt_eval_count: 7,
  prompt_eval_duration: 2_000,
  eval_count: 11,
  eval_duration: 3_000,
};
const request = (prompt) => ({ model, prompt, options: { temperature: 0 } });

if (args.serve) await serve();
else await main();

// ---------------------------------------------------------------------------------------------
// The Ollama stand-in (child process).

async function serve() {
  const tags = Buffer.from(
    JSON.stringify({
      models: [
        {
          name: model,
          model,
          modified_at: '2026-11-01T00:00:00Z',
          size: 4_920_753_328,
          digest,
          details: { format: 'gguf', family: 'llama', parameter_size: '8.0B', quantization_level: 'Q4_K_M' },
        },
      ],
    }),
  );
  const generated = Buffer.from(JSON.stringify(answerBody));
  const send = (res, status, body) =>
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/api/tags') return send(res, 200, tags);
    if (path === '/api/generate') {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(res, 400, Buffer.from('{"error":"invalid JSON"}'));
      }
      if (body.stream !== false) return send(res, 400, Buffer.from('{"error":"the stand-in answers stream: false only"}'));
      if (body.model !== model) return send(res, 404, Buffer.from(`{"error":"model \\"${body.model}\\" not found, try pulling it first"}`));
      return send(res, 200, generated);
    }
    res.writeHead(404).end('404 page not found');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send({ type: 'ready', port: server.address().port });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// The client (parent process).

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/** p50, p99 and max of samples in ms, to the µs. */
function latency(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  return { p50_ms: round(quantile(sorted, 0.5)), p99_ms: round(quantile(sorted, 0.99)), max_ms: round(sorted.at(-1) ?? null) };
}

async function main() {
  if (!args.databaseUrl) {
    process.stderr.write('give --database-url\n');
    process.exit(64);
  }
  const { default: pg } = await import('pg');
  const { migrate, silentLogger } = await import('cesar');
  const { cachedAsk, cacheKey, canonicalJson, canonicalRequest, requestKey, storeAnswer } = await import('../dist/llm/cache.js');
  const { OllamaClient } = await import('../dist/llm/client.js');
  const { hitSql } = await import('../dist/llm/queries.js');
  const { defaultLlmSettings } = await import('../dist/llm/settings.js');

  const loadAtStart = Math.round(os.loadavg()[0] * 100) / 100;
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const served = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the stand-in exited (${code})`)));
  });
  const client = new OllamaClient({ baseUrl: `http://127.0.0.1:${served.port}`, timeoutMs: 30_000, maxAttempts: 1, backoffMs: 0 });
  const policy = { ttlMs: defaultLlmSettings.cacheTtlMs };

  const name = `cesar_bench_llm_cache_${process.pid}`;
  const bench = await openThrowawayDatabase(pg, args.databaseUrl, name, { poolMax: args.concurrency + 1 });
  const { admin, pool } = bench;

  /**
   * `count` operations, `concurrency` at once; op(i) is timed one by one. Wall time, rate, latency,
   * CPU (client, stand-in, the bench's PostgreSQL backends) and WAL (the whole server's).
   */
  const measure = async (count, concurrency, op) => {
    const samples = new Array(count);
    const cpu0 = process.cpuUsage();
    const standIn0 = processCpuMs(child.pid);
    const backends0 = await bench.backendCpuMs();
    const wal0 = await bench.walMark();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        await op(i);
        samples[i] = performance.now() - t;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const backends1 = await bench.backendCpuMs();
    const standIn1 = processCpuMs(child.pid);
    const walBytes = await bench.walBytesSince(wal0);
    const perOp = (x) => Math.round((x / count) * 1000) / 1000;
    const clientMs = (cpu.user + cpu.system) / 1000;
    const standInMs = standIn0 === null || standIn1 === null ? null : standIn1 - standIn0;
    const backendsMs = [...backends1].reduce((sum, [pid, t]) => sum + t - (backends0.get(pid) ?? 0), 0);
    return {
      summary: {
        concurrency,
        count,
        seconds: Math.round(ms) / 1000,
        per_second: Math.round(count / (ms / 1000)),
        ...latency(samples),
        cpu_ms_per_op: {
          client: perOp(clientMs),
          stand_in: standInMs === null ? null : perOp(standInMs),
          postgres_backends: perOp(backendsMs),
        },
        wal_bytes_per_op: Math.round(walBytes / count),
      },
      samples,
    };
  };

  try {
    const postgresVersion = (await admin.query('SHOW server_version')).rows[0].server_version;
    const migrateStarted = performance.now();
    await migrate(pool, silentLogger);
    const migrateMs = performance.now() - migrateStarted;

    // The fill: one INSERT ... SELECT. request_key is sha256 of the canonical JSON of
    // { endpoint: 'generate', model, prompt: 'prompt ' || i, options: { temperature: 0 } } (keys sorted,
    // no spaces), cache_key sha256(request_key || ':' || digest), as cache.ts computes them.
    const canonicalPrefix = `{"endpoint":"generate","model":${JSON.stringify(model)},"options":{"temperature":0},"prompt":"prompt `;
    const fillSql = `
      WITH r AS (
        SELECT g, 'prompt ' || g AS prompt,
               encode(sha256(convert_to($2::text || g::text || '"}', 'UTF8')), 'hex') AS request_key
          FROM generate_series(1, $1::int) g)
      INSERT INTO llm_cache (cache_key, request_key, endpoint, model, model_digest, prompt, response, request, answer,
                             expires_at, duration_ms, prompt_tokens, completion_tokens, miss_count)
      SELECT encode(sha256(convert_to(request_key || ':' || $3::text, 'UTF8')), 'hex'), request_key, 'generate', $4::text, $3::text,
             prompt, $5::text, jsonb_build_object('endpoint', 'generate', 'model', $4::text, 'prompt', prompt, 'options', '{"temperature":0}'::jsonb),
             $6::jsonb, now() + $7::float8 * interval '1 millisecond', 1.5, 7, 11, 1
        FROM r`;
    const fillStarted = performance.now();
    await pool.query({
      text: fillSql,
      values: [args.entries, canonicalPrefix, digest, model, answerBody.response, JSON.stringify(answerBody), policy.ttlMs],
    });
    await pool.query('VACUUM ANALYZE llm_cache');
    const fillMs = performance.now() - fillStarted;
    const call = (prompt) => ({ endpoint: 'generate', request: request(prompt) });
    // The keys of the entries looked up, computed by cache.ts; every one must be in the table.
    const keyOf = (i) => cacheKey(requestKey(call(`prompt ${i}`)), digest);
    for (const i of [1, 2, Math.ceil(args.entries / 2), args.entries]) {
      const { rows } = await pool.query({ text: 'SELECT request_key, request FROM llm_cache WHERE cache_key = $1', values: [keyOf(i)] });
      if (rows.length !== 1) throw new Error(`entry ${i} is not found by cache.ts's key: the fill does not key as cache.ts does`);
      if (canonicalJson(rows[0].request) !== canonicalJson(canonicalRequest(call(`prompt ${i}`)))) {
        throw new Error(`entry ${i}: the stored request is not the canonical request`);
      }
    }
    const { rows: sizes } = await pool.query(
      `SELECT count(*)::int AS entries, pg_total_relation_size('llm_cache') AS bytes FROM llm_cache`,
    );

    // The entries looked up: uniformly at random (seeded), the same sequence in every run.
    const random = prng(15);
    const picks = Array.from({ length: args.lookups }, () => 1 + Math.floor(random() * args.entries));
    const keys = picks.map(keyOf);
    const levels = [...new Set([1, args.concurrency])];
    const expectHit = (r) => {
      if (r.cache !== 'hit') throw new Error(`expected a hit, got ${r.cache}`);
    };

    // Warm-up: the connections, the JIT, the index's pages (not measured).
    await measure(Math.min(2000, args.lookups), args.concurrency, async (i) => {
      expectHit(await cachedAsk(pool, client, call(`prompt ${picks[i]}`), policy));
    });

    const hitsThroughCache = {};
    const hitsDigestKnown = {};
    const tagsAlone = {};
    const hitStatement = {};
    for (const c of levels) {
      // (1) cachedAsk as it is: request key, /api/tags for the digest, cache key, the hit statement.
      hitsThroughCache[`concurrency_${c}`] = (
        await measure(args.lookups, c, async (i) => expectHit(await cachedAsk(pool, client, call(`prompt ${picks[i]}`), policy)))
      ).summary;
      // What a hit would cost with the digest already known (cachedAsk's path without modelDigest,
      // written out here: request key, cache key, the hit statement; src/ has no such mode).
      hitsDigestKnown[`concurrency_${c}`] = (
        await measure(args.lookups, c, async (i) => {
          const key = cacheKey(requestKey(call(`prompt ${picks[i]}`)), digest);
          const { rowCount } = await pool.query({ text: hitSql, values: [key] });
          if (rowCount !== 1) throw new Error('the hit statement found no entry');
        })
      ).summary;
      // The /api/tags round trip alone (what modelDigest costs each ask).
      tagsAlone[`concurrency_${c}`] = (await measure(args.lookups, c, () => client.tags())).summary;
      // (2) the database part alone: the hit statement by key.
      hitStatement[`concurrency_${c}`] = (
        await measure(args.lookups, c, async (i) => {
          const { rowCount } = await pool.query({ text: hitSql, values: [keys[i]] });
          if (rowCount !== 1) throw new Error('the hit statement found no entry');
        })
      ).summary;
    }

    // (3) A miss against no cache, the same request each way, interleaved (the order alternates),
    // concurrency 1: the direct request never stores anything, so the cached one is a real miss.
    const direct = [];
    const cached = [];
    const missWall = await measure(args.misses, 1, async (i) => {
      const c = call(`miss ${i}`);
      const plain = async () => {
        const t = performance.now();
        await client.generate(c.request);
        direct.push(performance.now() - t);
      };
      const throughCache = async () => {
        const t = performance.now();
        const r = await cachedAsk(pool, client, c, policy);
        cached.push(performance.now() - t);
        if (r.cache !== 'miss') throw new Error(`expected a miss, got ${r.cache}`);
      };
      if (i % 2 === 0) {
        await plain();
        await throughCache();
      } else {
        await throughCache();
        await plain();
      }
    });
    // The insert alone: storeAnswer for further new requests (what a miss adds after the answer).
    const insertAlone = (
      await measure(args.misses, 1, async (i) => {
        const c = call(`insert ${i}`);
        const reqKey = requestKey(c);
        await storeAnswer(pool, c, reqKey, cacheKey(reqKey, digest), digest, answerBody, 1.5, policy.ttlMs, false);
      })
    ).summary;
    const directLatency = latency(direct);
    const cachedLatency = latency(cached);
    const round3 = (x) => Math.round(x * 1000) / 1000;
    const { rows: after } = await pool.query(
      `SELECT count(*)::int AS entries, sum(hit_count)::bigint AS hits, sum(miss_count)::bigint AS misses FROM llm_cache`,
    );

    process.stdout.write(
      `${JSON.stringify(
        {
          entries: args.entries,
          lookups: args.lookups,
          concurrency: args.concurrency,
          misses: args.misses,
          node: process.version,
          postgres: postgresVersion,
          // Other work on the machine when the run started (1-minute load average; 2 cores); and at the end.
          load_average_at_start: loadAtStart,
          load_average_at_end: Math.round(os.loadavg()[0] * 100) / 100,
          migrate_seconds: Math.round(migrateMs) / 1000,
          fill: {
            how: 'one INSERT ... SELECT generate_series, keys computed in SQL (sha256) as cache.ts does, then VACUUM ANALYZE',
            seconds: Math.round(fillMs) / 1000,
            entries: sizes[0].entries,
            table_mb: Math.round(Number(sizes[0].bytes) / 1e5) / 10,
          },
          hits_through_cached_ask: hitsThroughCache,
          hits_digest_known: hitsDigestKnown,
          api_tags_alone: tagsAlone,
          hit_statement_alone: hitStatement,
          miss: {
            concurrency: 1,
            requests: args.misses,
            direct_generate: directLatency,
            cached_ask_miss: cachedLatency,
            overhead_ms: {
              p50: round3(cachedLatency.p50_ms - directLatency.p50_ms),
              p99: round3(cachedLatency.p99_ms - directLatency.p99_ms),
            },
            pairs_seconds: missWall.summary.seconds,
            insert_alone: insertAlone,
          },
          llm_cache_after: { entries: after[0].entries, hits: Number(after[0].hits), misses: Number(after[0].misses) },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await bench.close();
    child.kill();
  }
}

import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../duration.js';
import { parseIsoTime } from '../iso-time.js';
import { partNames } from '../supervisor/parts.js';
import type { GlobalOptions } from './context.js';

export interface ProgramResult {
  exitCode: number;
}

function integerIn(min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return Number(value);
  };
}

function temperatureArg(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || Number(value) > 2)
    throw new InvalidArgumentError('expected a number from 0 to 2, like 0 or 0.7');
  return Number(value);
}

function durationArg(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration like 500ms, 30s, 5m, 2h or 1d');
  return ms;
}

function isoDate(value: string): Date {
  const date = parseIsoTime(value);
  if (!date) throw new InvalidArgumentError('expected an ISO 8601 time like 2026-01-31T09:00:00Z, with a real date and time');
  return date;
}

function partList(value: string): string[] {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const unknown = parts.filter((p) => !partNames.includes(p));
  if (parts.length === 0 || unknown.length > 0) throw new InvalidArgumentError(`expected parts among ${partNames.join(', ')}`);
  return parts;
}

function positiveSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) < 0.5 || Number(value) > 86400) {
    throw new InvalidArgumentError('expected seconds, a number from 0.5 to 86400');
  }
  return Number(value);
}

/**
 * The command tree. Each command's module is imported only when it runs, so `cesar --version`
 * loads neither pg nor kysely.
 */
export function buildProgram(version: string, result: ProgramResult): Command {
  const program = new Command('cesar')
    .description('Operations tool of the CESAR AI-agent ecosystem that lives in PostgreSQL')
    .version(version, '-V, --version', 'print the version')
    .option('--verbose', 'print the stack trace of errors')
    .option('--no-color', 'no colours (also NO_COLOR=1, or when not a TTY)')
    .option('--home <dir>', 'CESAR_HOME: where the embedded PostgreSQL keeps its data (default ./.cesar)')
    .addOption(new Option('--log-level <level>', 'CESAR_LOG_LEVEL').choices(['debug', 'info', 'warn', 'error']))
    .addOption(new Option('--log-format <format>', 'CESAR_LOG_FORMAT').choices(['text', 'json']))
    .showSuggestionAfterError(true)
    // Parsing errors are thrown (exitOverride) and printed by main.ts in cesar's one error format.
    .configureOutput({ outputError: () => {} })
    .exitOverride()
    .configureHelp({ showGlobalOptions: true });

  /** The command's context: settings validated, logger made (loaded only when a command runs). */
  const context = async (cmd: Command, proc?: string) => {
    const { createContext } = await import('./context.js');
    return createContext(cmd.optsWithGlobals<GlobalOptions>(), process.env, proc);
  };

  program
    .command('migrate')
    .description('apply pending schema/ migrations and reference data (creates the database if missing)')
    .option('--status', 'list applied and pending migrations; change nothing')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const { runMigrate } = await import('./migrate.js');
      result.exitCode = await runMigrate(await context(cmd), options);
    });

  program
    .command('verify')
    .description('the six readiness checks: SCHEMA, WORKFLOWS, JOBS, MONITORING, AGENTS, DATA_FLOW')
    .option('--json', 'print one JSON document')
    .option('--watch [seconds]', 're-run in place every few seconds (default 5) until Ctrl-C', positiveSeconds)
    .option('--live', 'then prove the running system works: API /health, the dashboard, a fresh worker heartbeat, a canary job completes')
    .option('--api-port <port>', 'with --live: the API port (default: found through CESAR_HOME)', integerIn(1, 65535))
    .option('--dashboard-port <port>', 'with --live: the dashboard port (default: found through CESAR_HOME)', integerIn(1, 65535))
    .action(async (options, cmd: Command) => {
      const { runVerifyCommand } = await import('./verify.js');
      result.exitCode = await runVerifyCommand(await context(cmd), options);
    });

  program
    .command('status')
    .description('what the system is doing now: agents, workflows, jobs, sync')
    .option('--json', 'print one JSON document (with --watch: one per line, per interval)')
    .option('--watch', 'redraw in place until SIGINT or SIGTERM')
    .option('--interval <duration>', 'with --watch: time between redraws', durationArg, 2000)
    .action(async (options, cmd: Command) => {
      const { runStatus } = await import('./status.js');
      result.exitCode = await runStatus(await context(cmd), options);
    });

  program
    .command('enqueue')
    .description('put a job on the queue and print its id (or, with --workflow, fire a workflow tick)')
    .argument('[type]', 'job type (e.g. canary); not with --workflow')
    .option('--workflow <name>', "fire the current minute's tick of this workflow template, as a scheduler would (for crontabs)")
    .option('--payload <json>', 'JSON payload, or - to read it from stdin')
    .option('--payload-file <file>', 'read the JSON payload from a file')
    .option('--priority <n>', 'lower runs first (default 0)', integerIn(-1_000_000, 1_000_000))
    .addOption(new Option('--run-at <iso>', 'run at this time (ISO 8601)').argParser(isoDate).conflicts('delay'))
    .option('--delay <duration>', 'run after this long: 500ms, 30s, 5m, 2h, 1d', durationArg)
    .option('--key <key>', 'dedupe key: while a job with this key is pending or running, return it instead')
    .option(
      '--unique-for <duration>',
      'with --key: the key also holds this long after its job finished (cron firing twice): 30s, 5m, 1h',
      durationArg,
    )
    .option('--max-attempts <n>', 'attempts before the job is failed for good (default 5)', integerIn(1, 1000))
    .option('--queue <name>', 'queue name (default "default")')
    .option('--json', 'print one JSON object {"id", "deduplicated", ...}')
    .action(async (type: string | undefined, options, cmd: Command) => {
      const { runEnqueue } = await import('./enqueue.js');
      result.exitCode = await runEnqueue(await context(cmd), type, options);
    });

  program
    .command('worker')
    .description('run jobs from the queue until SIGINT or SIGTERM')
    .option('--concurrency <n>', 'jobs at once', integerIn(1, 1000), 10)
    .option('--poll-interval <duration>', 'poll for jobs this often (the fallback to LISTEN/NOTIFY)', durationArg, 2000)
    .option('--lease-seconds <n>', 'lease on a running job, renewed every third of it', integerIn(3, 86_400), 30)
    .option(
      '--queue <names>',
      'comma-separated queues to take jobs from',
      (v: string) =>
        v
          .split(',')
          .map((q) => q.trim())
          .filter(Boolean),
      ['default'],
    )
    .option('--no-listen', 'poll only, never LISTEN (transaction-mode poolers; also CESAR_LISTEN=off)')
    .option('--shutdown-grace <duration>', 'on SIGTERM, how long running jobs get to finish', durationArg, 30_000)
    .option('--prefetch <n>', 'jobs claimed ahead of free slots (default: the concurrency)', integerIn(0, 10_000))
    .action(async (options, cmd: Command) => {
      const { runWorker } = await import('./worker.js');
      result.exitCode = await runWorker(await context(cmd, 'worker'), options, version);
    });

  program
    .command('scheduler')
    .description('fire due workflow ticks until SIGINT or SIGTERM (run as many as you like, on any machines)')
    .option('--poll-interval <duration>', 'longest pause between passes: template edits take effect within it', durationArg, 1000)
    .action(async (options, cmd: Command) => {
      const { runScheduler } = await import('./scheduler.js');
      result.exitCode = await runScheduler(await context(cmd, 'scheduler'), options, version);
    });

  const jobs = program.command('jobs').description('list, show, retry and cancel jobs');
  jobs
    .command('list')
    .description('jobs, newest first')
    .option('--status <status>', 'pending, in_progress, completed, failed or cancelled')
    .option('--type <type>', 'job type')
    .option('--limit <n>', 'at most this many (default 50)', integerIn(1, 1000))
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const { runJobsList } = await import('./jobs.js');
      result.exitCode = await runJobsList(await context(cmd), options);
    });
  jobs
    .command('show')
    .description('one job with its attempt history')
    .argument('<id>', 'job id', integerIn(1, Number.MAX_SAFE_INTEGER))
    .option('--json', 'print one JSON document (the job with an "attempts" array)')
    .action(async (id: number, options, cmd: Command) => {
      const { runJobsShow } = await import('./jobs.js');
      result.exitCode = await runJobsShow(await context(cmd), id, options);
    });
  for (const action of ['retry', 'cancel'] as const) {
    jobs
      .command(action)
      .description(action === 'retry' ? 'run a failed, cancelled or waiting job again now' : 'cancel a pending or running job')
      .argument('<id>', 'job id', integerIn(1, Number.MAX_SAFE_INTEGER))
      .option('--json', 'print the job as JSON')
      .action(async (id: number, options, cmd: Command) => {
        const { runJobsChange } = await import('./jobs.js');
        result.exitCode = await runJobsChange(await context(cmd), action, id, options);
      });
  }

  const workflows = program.command('workflows').description('apply, list, show, run, pause, retry and cancel workflows');
  workflows
    .command('apply')
    .description('create or update templates from a JSON file (one template or an array), validated whole first')
    .argument('<file>', 'the JSON file, or - to read it from stdin (at most 1 MiB)')
    .option('--json', 'print one JSON document')
    .action(async (file: string, options, cmd: Command) => {
      const { runWorkflowsApply } = await import('./workflows.js');
      result.exitCode = await runWorkflowsApply(await context(cmd), file, options);
    });
  workflows
    .command('list')
    .description('templates: schedule, policies, runnable, last fired, next due, lateness')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const { runWorkflowsList } = await import('./workflows.js');
      result.exitCode = await runWorkflowsList(await context(cmd), options);
    });
  workflows
    .command('show')
    .description('one execution with its steps: agent, status, attempts, duration, output or error')
    .argument('<execution>', 'execution id', integerIn(1, Number.MAX_SAFE_INTEGER))
    .option('--json', 'print one JSON document')
    .action(async (id: number, options, cmd: Command) => {
      const { runWorkflowsShow } = await import('./workflows.js');
      result.exitCode = await runWorkflowsShow(await context(cmd), id, options);
    });
  workflows
    .command('run')
    .description('start an execution of a template now and print its id')
    .argument('<name>', 'template name')
    .option('--input <json>', "a JSON object, the first step's input (- reads it from stdin)")
    .option('--json', 'print one JSON document')
    .action(async (name: string, options, cmd: Command) => {
      const { runWorkflowsRun } = await import('./workflows.js');
      result.exitCode = await runWorkflowsRun(await context(cmd), name, options);
    });
  for (const action of ['pause', 'resume'] as const) {
    workflows
      .command(action)
      .description(action === 'pause' ? 'stop firing the template until it is resumed' : 'fire the template again from its next tick')
      .argument('<name>', 'template name')
      .option('--json', 'print one JSON document')
      .action(async (name: string, options, cmd: Command) => {
        const { runWorkflowsActive } = await import('./workflows.js');
        result.exitCode = await runWorkflowsActive(await context(cmd), action, name, options);
      });
  }
  workflows
    .command('retry')
    .description('run a failed or cancelled execution again from its first unfinished step (or --from-step)')
    .argument('<execution>', 'execution id', integerIn(1, Number.MAX_SAFE_INTEGER))
    .option('--from-step <step>', 'resume from this step (also for a succeeded execution); earlier steps keep their outputs')
    .option('--json', 'print one JSON document')
    .action(async (id: number, options, cmd: Command) => {
      const { runWorkflowsRetry } = await import('./workflows.js');
      result.exitCode = await runWorkflowsRetry(await context(cmd), id, options);
    });
  workflows
    .command('cancel')
    .description('cancel a pending or running execution (its running step is aborted)')
    .argument('<execution>', 'execution id', integerIn(1, Number.MAX_SAFE_INTEGER))
    .option('--json', 'print one JSON document')
    .action(async (id: number, options, cmd: Command) => {
      const { runWorkflowsCancel } = await import('./workflows.js');
      result.exitCode = await runWorkflowsCancel(await context(cmd), id, options);
    });
  workflows
    .command('history')
    .description("a template's ticks and executions, newest first: fired, skipped (and why), coalesced, manual")
    .argument('<name>', 'template name')
    .option('--limit <n>', 'at most this many (default 20)', integerIn(1, 1000))
    .option('--json', 'print one JSON document')
    .action(async (name: string, options, cmd: Command) => {
      const { runWorkflowsHistory } = await import('./workflows.js');
      result.exitCode = await runWorkflowsHistory(await context(cmd), name, options);
    });
  workflows
    .command('set')
    .description("change a template's schedule or policies (every value checked first; nothing changes on a bad one)")
    .argument('<name>', 'template name')
    .option('--cron <expr>', 'cron expression: 5 fields (minute hour day month weekday), or 6 with seconds first')
    .option('--timezone <tz>', 'IANA time zone the cron expression is read in (e.g. Europe/Paris)')
    .option('--catchup <policy>', 'missed ticks: skip, latest (fire the newest once) or all')
    .option('--overlap <policy>', 'a tick while the previous execution runs: skip, queue or allow')
    .option('--json', 'print one JSON document')
    .action(async (name: string, options, cmd: Command) => {
      const { runWorkflowsSet } = await import('./workflows.js');
      result.exitCode = await runWorkflowsSet(await context(cmd), name, options);
    });

  const sync = program.command('sync').description('the sync with Supabase (SUPABASE_DB_URL): init, status, run, verify');
  sync
    .command('init')
    .description('prepare the Supabase database: synced tables when missing, sync columns, triggers (idempotent)')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const { runSyncInit } = await import('./sync.js');
      result.exitCode = await runSyncInit(await context(cmd), options);
    });
  sync
    .command('status')
    .description('the sync state here: last success, error, lag, rows and conflicts per table')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const { runSyncStatus } = await import('./sync.js');
      result.exitCode = await runSyncStatus(await context(cmd), options);
    });
  sync
    .command('run')
    .description('sync now: pull then push every enabled table, or only TABLE')
    .argument('[table]', 'agents, workflow_templates, memory_episodic, memory_semantic or financial_data')
    .option('--json', 'print one JSON document')
    .action(async (table: string | undefined, options, cmd: Command) => {
      const { runSyncRun } = await import('./sync.js');
      result.exitCode = await runSyncRun(await context(cmd), table, options);
    });
  sync
    .command('verify')
    .description('compare both sides by buckets of row ids and versions; list differing ids; exit 1 when they differ')
    .argument('[table]', 'only this synced table')
    .option('--json', 'print one JSON document')
    .action(async (table: string | undefined, options, cmd: Command) => {
      const { runSyncVerify } = await import('./sync.js');
      result.exitCode = await runSyncVerify(await context(cmd), table, options);
    });

  const market = program.command('market').description('market data (financial_api): fetch daily bars into financial_data');
  market
    .command('fetch')
    .description('fetch daily bars of each SYMBOL from CESAR_MARKET_PROVIDER; exit 1 when a symbol got no data')
    .argument('<symbols...>', 'ticker symbols, like AAPL MSFT ^GSPC')
    .option('--from <day>', 'first day wanted, YYYY-MM-DD')
    .option('--to <day>', 'last day wanted, YYYY-MM-DD (default: today)')
    .option('--json', 'print one JSON document')
    .action(async (symbols: string[], options, cmd: Command) => {
      const { runMarketFetch } = await import('./market.js');
      result.exitCode = await runMarketFetch(await context(cmd), symbols, options);
    });
  market
    .command('show')
    .description('the newest bars of SYMBOL stored from CESAR_MARKET_PROVIDER, and its newest analysis')
    .argument('<symbol>', 'a ticker symbol, like AAPL')
    .option('--days <n>', 'how many bars (1 to 1000)', integerIn(1, 1000), 10)
    .option('--json', 'print one JSON document')
    .action(async (symbol: string, options, cmd: Command) => {
      const { runMarketShow } = await import('./market.js');
      result.exitCode = await runMarketShow(await context(cmd), symbol, options);
    });
  market
    .command('report')
    .description('the daily financial report of DATE (YYYY-MM-DD), or the newest')
    .argument('[date]', 'the report day, YYYY-MM-DD')
    .option('--json', 'print one JSON document')
    .action(async (date: string | undefined, options, cmd: Command) => {
      const { runMarketReport } = await import('./market.js');
      result.exitCode = await runMarketReport(await context(cmd), date, options);
    });
  const ingest = program.command('ingest').description('data ingestion (market data, email): status; read the Maildir');
  ingest
    .command('status')
    .description('per source: attempts, failures and rows of the last 24 hours, and the newest failures')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const { runIngestStatus } = await import('./market.js');
      result.exitCode = await runIngestStatus(await context(cmd), options);
    });
  ingest
    .command('email')
    .description('read the new messages of the Maildir (CESAR_MAILDIR) into the agents’ episodic memory; exit 1 when a message failed')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const { runIngestEmail } = await import('./email.js');
      result.exitCode = await runIngestEmail(await context(cmd), options);
    });

  const kg = program
    .command('kg')
    .description('the knowledge graph (the knowledge_graph_update workflow builds it): traverse it, count it');
  kg.command('show')
    .description('the nodes within --depth edges of the node KIND:KEY (either way), each with its depth and the edge it was reached by')
    .argument('<node>', 'a node as KIND:KEY, like "agent:Report Writer", symbol:AAPL or step:daily_financial_analysis.fetch_market_data')
    .option('--depth <n>', 'how many edges away (1 to 5)', integerIn(1, 5), 2)
    .option('--json', 'print one JSON document')
    .action(async (node: string, options, cmd: Command) => {
      const { runKgShow } = await import('./kg.js');
      result.exitCode = await runKgShow(await context(cmd), node, options);
    });
  kg.command('stats')
    .description('nodes by kind, edges by relation, expired edges, and how far knowledge_graph_update has read each source')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const { runKgStats } = await import('./kg.js');
      result.exitCode = await runKgStats(await context(cmd), options);
    });

  program
    .command('memory')
    .description('agents’ memory: episodes and consolidated facts')
    .command('show')
    .description('AGENT’s newest episodes, its semantic facts with support and confidence, and the consolidation’s decisions')
    .argument('<agent>', 'the agent’s name (like "Report Writer") or id')
    .option('--limit <n>', 'episodes and decisions shown (1 to 1000)', integerIn(1, 1000), 20)
    .option('--json', 'print one JSON document')
    .action(async (agent: string, options, cmd: Command) => {
      const { runMemoryShow } = await import('./memory.js');
      result.exitCode = await runMemoryShow(await context(cmd), agent, options);
    });

  const llm = program.command('llm').description('the LLM (Ollama at OLLAMA_URL) and its response cache');
  llm
    .command('ask')
    .description('ask MODEL, through the cache (temperature 0 by default, so the answer is cached)')
    .argument('<model>', 'an Ollama model, like llama3.1:8b')
    .argument('<prompt>', 'the prompt')
    .option('--system <text>', 'a system prompt')
    .option('--temperature <t>', 'sampling temperature, 0 to 2 (above 0 without --seed: not cached)', temperatureArg)
    .option('--seed <n>', 'a sampling seed (makes the answer cacheable)', integerIn(0, 2_147_483_647))
    .option('--no-cache', 'ask the model whatever the cache holds, and store nothing')
    .option('--allow-stale', 'when Ollama cannot be reached, answer from the cache even if expired or from an older model build')
    .option('--json', 'print one JSON document (says whether the answer came from the cache)')
    .action(async (model: string, prompt: string, options, cmd: Command) => {
      const { runLlmAsk } = await import('./llm.js');
      result.exitCode = await runLlmAsk(await context(cmd), model, prompt, options);
    });
  llm
    .command('models')
    .description('the models Ollama has, with their digests')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const { runLlmModels } = await import('./llm.js');
      result.exitCode = await runLlmModels(await context(cmd), options);
    });
  llm
    .command('cache')
    .description('the LLM response cache')
    .command('stats')
    .description('entries, hits, misses, stale and expired entries, per model')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const { runLlmCacheStats } = await import('./llm.js');
      result.exitCode = await runLlmCacheStats(await context(cmd), options);
    });

  program
    .command('api')
    .description('the HTTP API (health, metrics, jobs) until SIGINT or SIGTERM')
    .option('--api-port <port>', 'port to listen on (0: any free port)', integerIn(0, 65535), 8000)
    .option('--host <address>', 'address to bind (default loopback only)', '127.0.0.1')
    .action(async (options, cmd: Command) => {
      const { runApi } = await import('./api.js');
      result.exitCode = await runApi(await context(cmd, 'api'), options, version);
    });

  program
    .command('events')
    .description('lifecycle events: the newest ones (Redis), or --follow them as they happen')
    .option('-f, --follow', 'then keep printing new events until Ctrl-C (the only mode on PostgreSQL, which keeps no history)')
    .option('--type <types>', 'only events of these types (comma-separated; repeatable)', (value: string, previous: string[] = []) => [
      ...previous,
      value,
    ])
    .option('--since <id>', 'the events after this id (Redis), all of them unless --limit')
    .option('--limit <n>', 'the newest N events (default 50), or with --since the first N after it', integerIn(1, 100_000))
    .option('--json', 'one JSON envelope {"id","type","time","data"} per line')
    .action(async (options, cmd: Command) => {
      const { runEvents } = await import('./events.js');
      result.exitCode = await runEvents(await context(cmd), options);
    });

  program
    .command('dashboard')
    .description('the live dashboard (overview, jobs, workflows, agents) until SIGINT or SIGTERM')
    .option('--dashboard-port <port>', 'port to listen on (0: any free port)', integerIn(0, 65535), 3000)
    .option('--host <address>', 'address to bind (default loopback only)', '127.0.0.1')
    .action(async (options, cmd: Command) => {
      const { runDashboard } = await import('./dashboard.js');
      result.exitCode = await runDashboard(await context(cmd, 'dashboard'), options, version);
    });

  program
    .command('start')
    .description('run the system: migrations, then API, workers, scheduler and dashboard as supervised child processes')
    .option('--api-port <port>', 'API port', integerIn(0, 65535), 8000)
    .option('--dashboard-port <port>', 'dashboard port', integerIn(0, 65535), 3000)
    .option('--host <address>', 'address the API and dashboard bind', '127.0.0.1')
    .option('--workers <n>', 'worker processes', integerIn(1, 64), 1)
    .option('--concurrency <n>', 'jobs at once per worker', integerIn(1, 1000), 10)
    .option('--only <parts>', 'comma-separated parts: api, worker, scheduler, dashboard', partList)
    .option('--no-scheduler', 'do not run the scheduler')
    .option('--no-migrate', 'refuse to start while migrations are pending, rather than applying them')
    .action(async (options, cmd: Command) => {
      const { runStart } = await import('./start.js');
      result.exitCode = await runStart(await context(cmd, 'start'), options);
    });
  return program;
}

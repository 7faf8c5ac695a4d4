import { CommanderError } from 'commander';
import { buildProgram, type ProgramResult } from './cli/program.js';
import { CesarError, ExitCode } from './errors.js';
import { installSignalHandlers } from './lifecycle.js';
import { maskSecrets } from './mask.js';
import { packageVersion } from './package-info.js';

/**
 * The CLI entry: parse, run, and map every error to one line on stderr and a documented exit code.
 * Nothing else in cesar decides the exit code or calls process.exit (but the signal handlers).
 */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const json = argv.includes('--json');
  const result: ProgramResult = { exitCode: 0 };
  installSignalHandlers();
  try {
    await buildProgram(packageVersion, result).parseAsync(argv);
    return result.exitCode;
  } catch (err) {
    return reportError(err, { verbose, json });
  }
}

function reportError(err: unknown, { verbose, json }: { verbose: boolean; json: boolean }): number {
  if (err instanceof CommanderError) {
    // Commander printed its own one-line message (or the help / version).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.ok;
    return ExitCode.usage;
  }
  const known = err instanceof CesarError;
  const exitCode = known ? err.exitCode : ExitCode.internal;
  const message = known ? err.message : `internal error: ${(err as Error)?.message ?? String(err)}`;
  const hint = known ? err.hint : 'this is a bug in cesar; run again with --verbose and report the output';
  if (json) {
    process.stderr.write(
      `${maskSecrets(JSON.stringify({ error: { code: known ? err.code : 'internal', message, hint, exit_code: exitCode } }))}\n`,
    );
  } else {
    process.stderr.write(`${maskSecrets(`cesar: ${message}${hint ? ` (next: ${hint})` : ''}`)}\n`);
  }
  if (verbose) {
    let e: unknown = err;
    while (e instanceof Error) {
      process.stderr.write(`${maskSecrets(e.stack ?? String(e))}\n`);
      e = e.cause;
      if (e) process.stderr.write('caused by: ');
    }
  }
  return exitCode;
}

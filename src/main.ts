import { CommanderError } from 'commander';
import { buildProgram, type ProgramResult } from './cli/program.js';
import { CesarError, ExitCode, UsageError } from './errors.js';
import { installSignalHandlers } from './lifecycle.js';
import { maskSecrets } from './mask.js';
import { packageVersion } from './package-info.js';
import { escapeControl } from './text.js';

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
    return reportError(asCesarError(err, argv), { verbose, json });
  }
}

/**
 * Commander's parsing errors (unknown command or flag, bad flag value) become UsageErrors, so that
 * they are printed like every other error (and as JSON with --json). Help and version pass through.
 */
function asCesarError(err: unknown, argv: string[]): unknown {
  if (!(err instanceof CommanderError)) return err;
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return undefined;
  // Help shown because a command needs a subcommand: the help was the message.
  if (err.code === 'commander.help') return new CesarError('a subcommand is needed (see the list above)', 'usage', ExitCode.usage);
  const command = argv.slice(2).find((a) => !a.startsWith('-'));
  const hint = command && err.code !== 'commander.unknownCommand' ? `see \`cesar ${command} --help\`` : 'see `cesar --help`';
  return new UsageError(err.message.replace(/^error: /, ''), hint);
}

function reportError(err: unknown, { verbose, json }: { verbose: boolean; json: boolean }): number {
  if (err === undefined) return ExitCode.ok;
  const known = err instanceof CesarError;
  const exitCode = known ? err.exitCode : ExitCode.internal;
  const message = known ? err.message : `internal error: ${(err as Error)?.message ?? String(err)}`;
  const hint = known ? err.hint : 'this is a bug in cesar; run again with --verbose and report the output';
  if (json) {
    process.stderr.write(
      `${maskSecrets(JSON.stringify({ error: { code: known ? err.code : 'internal', message, hint, exit_code: exitCode } }))}\n`,
    );
  } else {
    // One error, one line: control characters in echoed input are escaped.
    process.stderr.write(`${maskSecrets(escapeControl(`cesar: ${message}${hint ? ` (next: ${hint})` : ''}`))}\n`);
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

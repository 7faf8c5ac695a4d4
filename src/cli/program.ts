import { Command, InvalidArgumentError, Option } from 'commander';
import type { GlobalOptions } from './context.js';

export interface ProgramResult {
  exitCode: number;
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
    .exitOverride()
    .configureHelp({ showGlobalOptions: true });

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();

  program.command('migrate')
    .description('apply pending schema/ migrations and reference data (creates the database if missing)')
    .option('--status', 'list applied and pending migrations; change nothing')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const [{ runMigrate }, { createContext }] = await Promise.all([import('./migrate.js'), import('./context.js')]);
      result.exitCode = await runMigrate(createContext(globals(cmd)), options);
    });

  program.command('verify')
    .description('the six readiness checks: SCHEMA, WORKFLOWS, JOBS, MONITORING, AGENTS, DATA_FLOW')
    .option('--json', 'print one JSON document')
    .option('--watch [seconds]', 're-run in place every few seconds (default 5) until Ctrl-C', positiveSeconds)
    .action(async (options, cmd: Command) => {
      const [{ runVerifyCommand }, { createContext }] = await Promise.all([import('./verify.js'), import('./context.js')]);
      result.exitCode = await runVerifyCommand(createContext(globals(cmd)), options);
    });

  program.command('status')
    .description('what the system is doing now: agents, workflows, jobs, sync')
    .option('--json', 'print one JSON document')
    .action(async (options, cmd: Command) => {
      const [{ runStatus }, { createContext }] = await Promise.all([import('./status.js'), import('./context.js')]);
      result.exitCode = await runStatus(createContext(globals(cmd)), options);
    });

  for (const [name, issue] of [['enqueue', 'Queue'], ['worker', 'Queue'], ['jobs', 'Queue'], ['start', 'Start']] as const) {
    program.command(name, { hidden: true })
      .allowUnknownOption()
      .allowExcessArguments()
      .action(async () => {
        const { UsageError } = await import('../errors.js');
        throw new UsageError(`cesar ${name} is not built yet; it arrives with the ${issue} issue`);
      });
  }
  return program;
}

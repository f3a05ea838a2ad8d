import type { CommandContext } from './command.ts';
import { commands } from './registry.ts';
import { ExitCode } from './exit-codes.ts';
import { ConfigError, LeaseHeldError, MigrationGraphError, OutsideWindowError, ValidationError } from '../../lambdas/core/errors.ts';

/** Thin CLI: finds the verb, runs it, maps errors to documented exit codes. */
export async function main(argv: string[], io: Partial<Omit<CommandContext, 'argv'>> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const match = commands
    .filter((c) => {
      const words = c.name.split(' ');
      return words.every((w, i) => argv[i] === w);
    })
    .sort((a, b) => b.name.length - a.name.length)[0];

  const helpAsked = argv[0] === '--help' || argv[0] === 'help';
  if (!match || helpAsked) {
    // Asked-for help is output (pipeable to less/grep); the listing after a wrong verb is an error message.
    const out = helpAsked ? stdout : stderr;
    out.write('usage: offpeak <command> [options]\n\ncommands:\n');
    for (const c of commands) out.write(`  ${c.name.padEnd(18)} ${c.summary}\n`);
    if (argv[0] && !helpAsked) stderr.write(`\nunknown command: ${argv.join(' ')}\n`);
    return helpAsked ? ExitCode.ok : ExitCode.usage;
  }

  try {
    const command = await match.load();
    return await command.run({
      argv: argv.slice(match.name.split(' ').length),
      stdout,
      stderr,
      env: io.env ?? process.env,
      cwd: io.cwd ?? process.cwd(),
    });
  } catch (error) {
    stderr.write(`offpeak ${match.name}: ${describe(error)}\n`);
    if (error instanceof LeaseHeldError) return ExitCode.leaseHeld;
    if (error instanceof OutsideWindowError) return ExitCode.outsideWindow;
    if (error instanceof ConfigError || error instanceof ValidationError || error instanceof MigrationGraphError) return ExitCode.usage;
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return ExitCode.usage;
    return ExitCode.failed;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  let text = error.message;
  let cause = error.cause;
  while (cause instanceof Error) {
    if (!text.includes(cause.message)) text += `\n  caused by: ${cause.message}`;
    cause = cause.cause;
  }
  return text;
}


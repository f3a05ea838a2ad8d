import { readFileSync } from 'node:fs';
import type { CommandContext } from './command.ts';
import { commands } from './registry.ts';
import { ExitCode } from './exit-codes.ts';
import { classifyFailure, failureJson, type Failure } from './failure.ts';
import { didYouMean } from './suggest.ts';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function writeHelp(out: NodeJS.WritableStream): void {
  out.write('usage: offpeak <command> [options]    (offpeak <command> -h for its options)\n\ncommands:\n');
  for (const c of commands) out.write(`  ${c.name.padEnd(18)} ${c.summary}\n`);
  out.write('\noptions: -h, --help    --version\nexit codes: 0 ok, 1 failed, 2 bad usage or migrations, 3 busy (lease or embedded database), 4 outside the window, 5 cannot reach or log in to the database, 6 refused by pre-flight, 130 interrupted\n');
}

/**
 * Thin CLI: finds the verb, runs it, maps errors to documented exit codes. With `--json`, every exit writes
 * one JSON document on stdout: the verb's result, or `{"error":{"code","message","hint"},"exitCode"}`.
 */
export async function main(argv: string[], io: Partial<Omit<CommandContext, 'argv'>> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const json = argv.includes('--json');
  const fail = (failure: Failure, verb?: string): number => {
    stderr.write(`offpeak${verb ? ` ${verb}` : ''}: ${failure.message}\n${failure.hint ? `${failure.hint}\n` : ''}`);
    if (json) stdout.write(failureJson(failure));
    return failure.exitCode;
  };
  const usageFailure = (message: string, hint: string): Failure => ({ exitCode: ExitCode.usage, code: 'bad_usage', message, hint });

  const first = argv[0];
  if (first === '--version' || first === 'version') {
    stdout.write(json ? `${JSON.stringify({ version: version() })}\n` : `offpeak ${version()}\n`);
    return ExitCode.ok;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    // `offpeak help upgrade` is `offpeak upgrade --help`.
    if (first === 'help' && argv[1]) return main([...argv.slice(1), '--help'], io);
    writeHelp(stdout);
    return ExitCode.ok;
  }
  if (first === undefined || first === '--json') {
    writeHelp(stderr);
    return fail(usageFailure('no command given', 'usage: offpeak <command> [options]; offpeak --help lists the commands'));
  }

  const match = commands
    .filter((c) => c.name.split(' ').every((w, i) => argv[i] === w))
    .sort((a, b) => b.name.length - a.name.length)[0];
  if (!match) {
    const names = [...new Set(commands.map((c) => c.name.split(' ')[0]!)), 'help'];
    if (first.startsWith('-')) return fail(usageFailure(`unknown option ${first} before the command`, 'usage: offpeak <command> [options]; offpeak --help lists the commands'));
    const two = commands.find((c) => c.name.startsWith(`${first} `));
    const wanted = two ? `${first} ${argv[1] ?? ''}`.trim() : first;
    const guess = two ? didYouMean(wanted, commands.map((c) => c.name)) : didYouMean(first, names);
    return fail(usageFailure(`unknown command ${JSON.stringify(wanted)}${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ''}`, 'offpeak --help lists the commands'));
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
    return fail(classifyFailure(error), match.name);
  }
}

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { ConfigError } from '../../lambdas/core/errors.ts';
import { validateWindow, type OffpeakWindow } from '../../lambdas/core/window.ts';
import { targetOptions } from './target.ts';
import { didYouMean } from './suggest.ts';

/** Options every migration verb takes besides the target: where the files are, and JSON output. */
export const commonOptions = {
  migrations: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const migrationVerbOptions = { ...targetOptions, ...commonOptions } as const;

export interface VerbSpec<O extends NonNullable<ParseArgsConfig['options']>> {
  /** e.g. 'upgrade <head|REV|+N> [--sql]' */
  usage: string;
  options: O;
  /** How many positional arguments the verb takes. */
  positionals: { min: number; max: number };
}

export type ParsedVerb<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>;

/**
 * node:util parseArgs, with errors that name the problem and the fix. Throws
 * ConfigError (exit code 2); `--help` is returned for the verb to print usage.
 */
export function parseVerb<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], spec: VerbSpec<O>): ParsedVerb<O> {
  let parsed: ParsedVerb<O>;
  // Relative targets (`downgrade -1`) look like options to parseArgs: pass them as positionals.
  const relative = argv.filter((a) => /^-\d+$/.test(a));
  const args = relative.length ? [...argv.filter((a) => !/^-\d+$/.test(a)), '--', ...relative] : argv;
  try {
    parsed = parseArgs({ args, options: spec.options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ConfigError(`${parseErrorMessage(error as Error & { code?: string }, spec.options)}\nusage: offpeak ${spec.usage}`, { cause: error });
  }
  if ((parsed.values as { help?: boolean }).help) return parsed;
  const n = parsed.positionals.length;
  if (n < spec.positionals.min) {
    const wanted = [...spec.usage.matchAll(/<[^>]+>/g)].map((m) => m[0]);
    throw new ConfigError(`missing argument ${wanted[n] ?? ''}\nusage: offpeak ${spec.usage}`.replace(' \n', '\n'));
  }
  if (n > spec.positionals.max) {
    throw new ConfigError(`unexpected argument ${JSON.stringify(parsed.positionals[spec.positionals.max])}\nusage: offpeak ${spec.usage}`);
  }
  return parsed;
}

/** node:util's parse errors, said the conventional way: `unknown option --jsn (did you mean --json?)`. */
function parseErrorMessage(error: Error & { code?: string }, options: NonNullable<ParseArgsConfig['options']>): string {
  const option = /'(-{1,2}[^' ]+)/.exec(error.message)?.[1];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) {
    const names = Object.keys(options).map((o) => `--${o}`);
    const guess = option.startsWith('--') ? didYouMean(option, names) : undefined;
    return `unknown option ${option}${guess ? ` (did you mean ${guess}?)` : ''}`;
  }
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    return /does not take an argument/.test(error.message) ? `option ${option} takes no value` : `option ${option} needs a value`;
  }
  return error.message.replace(/\.$/, '');
}

/** The migrations directory: --migrations DIR, default migrations/ under the working directory. */
export function migrationsDir(values: { migrations?: string | undefined }, cwd: string): string {
  return resolve(cwd, values.migrations ?? 'migrations');
}

/** True (after printing the usage) when the verb was called with --help. */
export function helpRequested(values: { help?: boolean | undefined }, usage: string, stdout: NodeJS.WritableStream): boolean {
  if (!values.help) return false;
  stdout.write(`usage: offpeak ${usage}\n`);
  return true;
}

/**
 * --window START,MINUTES[,TIME_ZONE], e.g. 01:00,240,Europe/Moscow: run only inside that off-peak window
 * (time zone default UTC). Validated by the core window module.
 */
export function parseWindowOption(text: string | undefined): OffpeakWindow | undefined {
  if (text === undefined) return undefined;
  const [start, minutes, timeZone = 'UTC', extra] = text.split(',').map((s) => s.trim());
  const durationMinutes = Number(minutes);
  if (!start || extra !== undefined || !Number.isInteger(durationMinutes) || durationMinutes <= 0) {
    throw new ConfigError(`--window ${JSON.stringify(text)} is not valid: give START,MINUTES[,TIME_ZONE], e.g. --window 01:00,240,Europe/Moscow`);
  }
  const window: OffpeakWindow = { start, durationMinutes, timeZone };
  validateWindow(window);
  return window;
}

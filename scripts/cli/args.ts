import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { ConfigError } from '../../lambdas/core/errors.ts';
import { targetOptions } from './target.ts';

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
  try {
    parsed = parseArgs({ args: argv, options: spec.options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ConfigError(`${(error as Error).message.replace(/\.$/, '')}\nusage: offpeak ${spec.usage}`, { cause: error });
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

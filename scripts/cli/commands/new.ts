import type { Command, CommandContext } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { commonOptions, helpRequested, migrationsDir, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { loadGraph } from '../load-graph.ts';
import { parseRisk, slugify, writeScaffold } from '../scaffold.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';

const options = { ...commonOptions, risk: { type: 'string' }, 'rev-id': { type: 'string' }, head: { type: 'string' } } as const;

/** new and revision: one migration on top of the head (or --head REV when there are several). */
async function scaffoldOnHead(
  { argv, stdout, stderr, cwd }: CommandContext,
  spec: { usage: string; name: (positionals: string[], values: { message?: string | undefined; autogenerate?: boolean | undefined }) => { name: string; description: string } },
  extra: Record<string, { type: 'string' | 'boolean'; short?: string }> = {},
): Promise<ExitCode> {
  const { values, positionals } = parseVerb(argv, { usage: spec.usage, options: { ...options, ...extra }, positionals: { min: 0, max: 1 } });
  if (helpRequested(values, spec.usage, stdout)) return ExitCode.ok;
  const out = createOutput({ stdout, stderr }, values.json ?? false);
  const { name, description } = spec.name(positionals, values as { message?: string; autogenerate?: boolean });
  const risk = parseRisk(values.risk);
  const dir = migrationsDir(values, cwd);
  const graph = await loadGraph(dir);
  const head = values.head === undefined ? graph.head() : graph.resolveRevision(values.head);
  const made = await writeScaffold({ dir, cwd, graph, name, description, risk, revId: values['rev-id'], downRevisions: head === undefined ? [] : [head] });
  out.result({ revision: made.revision, downRevision: head ?? null, file: made.file, risk, registry: made.registry });
  out.line(`created ${made.file} (revision ${made.revision}, down revision ${head ?? '<base>'}, risk ${risk})`);
  out.line(`updated ${made.registry}`);
  out.line('next: write its up steps, then `offpeak check` and `offpeak upgrade head --sql` to preview');
  return ExitCode.ok;
}

const newUsage = 'new <short_name> [--risk low|medium|high] [--rev-id YYYYMMDDHHMM] [--head REV] [--migrations DIR] [--json]';

export const newCommand: Command = {
  name: 'new',
  summary: 'write migrations/YYYYMMDDHHMM_short_name.ts on top of the current head',
  run: (context) =>
    scaffoldOnHead(context, {
      usage: newUsage,
      name: ([name]) => {
        if (name === undefined) throw new ConfigError(`missing argument <short_name>\nusage: offpeak ${newUsage}`);
        return { name, description: name.replaceAll('_', ' ') };
      },
    }),
};

const revisionUsage = 'revision -m MESSAGE [--risk low|medium|high] [--rev-id YYYYMMDDHHMM] [--head REV] [--migrations DIR] [--json]';

/** Alembic's spelling of `new`: `revision -m "add user index"` writes YYYYMMDDHHMM_add_user_index.ts. */
export const revisionCommand: Command = {
  name: 'revision',
  summary: 'alembic spelling of new: revision -m "add user index" (no --autogenerate)',
  run: (context) =>
    scaffoldOnHead(
      context,
      {
        usage: revisionUsage,
        name: (positionals, values) => {
          if (values.autogenerate) {
            throw new ConfigError('--autogenerate is not supported: offpeak has no ORM models to compare; write the steps yourself (createIndex, dropIndex, sqlStep)');
          }
          if (positionals.length) throw new ConfigError(`unexpected argument ${JSON.stringify(positionals[0])}: give the name as -m MESSAGE\nusage: offpeak ${revisionUsage}`);
          const message = values.message?.trim();
          if (!message) throw new ConfigError(`-m MESSAGE is required: what the migration does, e.g. -m "add user index"\nusage: offpeak ${revisionUsage}`);
          const name = slugify(message);
          if (!name) throw new ConfigError(`-m ${JSON.stringify(message)} has no letters or digits to name the file with`);
          return { name, description: message };
        },
      },
      { message: { type: 'string', short: 'm' }, autogenerate: { type: 'boolean' } },
    ),
};

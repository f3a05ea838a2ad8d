import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { commonOptions, helpRequested, migrationsDir, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { loadGraph } from '../load-graph.ts';
import { slugify, writeScaffold } from '../scaffold.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';

const usage = 'merge [-m MESSAGE] [heads | REV REV...] [--rev-id YYYYMMDDHHMM] [--migrations DIR] [--json]';

/** Like `alembic merge`: a migration whose down revisions are the heads (or the given revisions), with no steps. */
export const mergeCommand: Command = {
  name: 'merge',
  summary: 'write a merge migration (no steps) joining the heads, or the given revisions',
  async run({ argv, stdout, stderr, cwd }) {
    const options = { ...commonOptions, message: { type: 'string', short: 'm' }, 'rev-id': { type: 'string' } } as const;
    const { values, positionals } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 64 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const dir = migrationsDir(values, cwd);
    const graph = await loadGraph(dir);

    const specs = positionals.length === 0 ? ['heads'] : positionals;
    const revisions = [...new Set(specs.flatMap((s) => (s === 'heads' ? graph.heads() : [graph.resolveRevision(s)])))];
    if (revisions.length < 2) {
      throw new ConfigError(
        specs.length === 1 && specs[0] === 'heads'
          ? `nothing to merge: there is one head (${revisions.join('') || '<none>'})`
          : `a merge needs two or more distinct revisions; got ${revisions.join(', ')}\nusage: offpeak ${usage}`,
      );
    }
    for (const r of revisions) {
      const below = revisions.find((other) => other !== r && graph.ancestors([other]).has(r));
      if (below) throw new ConfigError(`${r} is an ancestor of ${below}: merge only revisions on different branches`);
    }

    const message = values.message?.trim();
    const name = message ? slugify(message) : `merge_${revisions.map((r) => r.toLowerCase()).join('_and_')}`;
    const made = await writeScaffold({
      dir,
      cwd,
      graph,
      name: name.length <= 60 ? name : 'merge_heads',
      description: message || `merge ${revisions.join(' and ')}`,
      risk: 'low',
      revId: values['rev-id'],
      downRevisions: revisions,
    });
    out.result({ revision: made.revision, downRevisions: revisions, file: made.file, registry: made.registry });
    out.line(`created ${made.file} (revision ${made.revision}, merges ${revisions.join(', ')}; no steps)`);
    out.line(`updated ${made.registry}`);
    out.line('next: `offpeak check`, then `offpeak upgrade head` applies both branches and records the merge');
    return ExitCode.ok;
  },
};

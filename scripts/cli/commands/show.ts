import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { loadGraph } from '../load-graph.ts';
import { describeMigration, migrationJson } from '../describe-migration.ts';
import { readStatus, writeStatusWarnings } from '../status.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';

const usage = 'show <head|heads|current|REV> [--migrations DIR] [target options with current] [--json]';

/** Like `alembic show`: one migration (or each head, or each applied head with `current`) with every step's SQL. */
export const showCommand: Command = {
  name: 'show',
  summary: 'show one migration (REV, head or current): metadata, rollback plan, and every step with its SQL',
  async run({ argv, stdout, stderr, env, cwd }) {
    const { values, positionals } = parseVerb(argv, { usage, options: migrationVerbOptions, positionals: { min: 1, max: 1 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const dir = migrationsDir(values, cwd);
    const spec = positionals[0]!;
    let revisions: string[];
    const read = spec === 'current' ? await readStatus({ values, env, cwd, dir }) : undefined;
    const graph = read?.graph ?? (await loadGraph(dir));
    if (read) {
      writeStatusWarnings(stderr, read.status);
      revisions = read.status.current.map((r) => graph.node(r));
      if (revisions.length === 0) throw new ConfigError('show current: nothing is applied to this database (<base>)');
    } else if (spec === 'head') revisions = [graph.head()].filter((r): r is string => r !== undefined);
    else if (spec === 'heads') revisions = graph.heads();
    else revisions = [graph.resolveRevision(spec)];
    if (revisions.length === 0) throw new ConfigError('show: there are no migrations');

    const heads = graph.heads();
    const docs = revisions.map((r) => graph.get(r)).map((m) => ({ m, head: heads.includes(m.revision) }));
    out.result(docs.length === 1 ? migrationJson(docs[0]!.m, { head: docs[0]!.head, steps: true }) : docs.map(({ m, head }) => migrationJson(m, { head, steps: true })));
    docs.forEach(({ m, head }, i) => {
      if (i > 0) out.line();
      for (const line of describeMigration(m, { head, steps: true })) out.line(line);
    });
    return ExitCode.ok;
  },
};

import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { commonOptions, helpRequested, migrationsDir, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { loadGraph } from '../load-graph.ts';
import { describeMigration, migrationJson } from '../describe-migration.ts';

const usage = 'history [--verbose] [--migrations DIR] [--json]';

/** Like `alembic history`: newest first, `down -> rev (head), description`. */
export const historyCommand: Command = {
  name: 'history',
  summary: 'list the migrations, newest first (--verbose for details)',
  async run({ argv, stdout, stderr, cwd }) {
    const options = { ...commonOptions, verbose: { type: 'boolean', short: 'v' } } as const;
    const { values } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const graph = await loadGraph(migrationsDir(values, cwd));
    const heads = new Set(graph.heads());
    const newestFirst = [...graph.order].reverse().map((r) => graph.nodes.get(r)!);
    out.result({ migrations: newestFirst.map((m) => migrationJson(m, { head: heads.has(m.revision), steps: values.verbose ?? false })) });
    for (const m of newestFirst) {
      if (values.verbose) {
        for (const line of describeMigration(m, { head: heads.has(m.revision), steps: false })) out.line(line);
        out.line();
      } else {
        const down = m.downRevisions.length === 0 ? '<base>' : m.downRevisions.join(', ');
        out.line(`${down} -> ${m.revision}${heads.has(m.revision) ? ' (head)' : ''}, ${m.description}`);
      }
    }
    return ExitCode.ok;
  },
};

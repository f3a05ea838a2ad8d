import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { commonOptions, helpRequested, migrationsDir, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { loadGraph } from '../load-graph.ts';
import { describeMigration, migrationJson } from '../describe-migration.ts';

const usage = 'show <rev> [--migrations DIR] [--json]';

export const showCommand: Command = {
  name: 'show',
  summary: 'show one migration: metadata, rollback plan, and every step with its SQL',
  async run({ argv, stdout, stderr, cwd }) {
    const { values, positionals } = parseVerb(argv, { usage, options: commonOptions, positionals: { min: 1, max: 1 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const graph = await loadGraph(migrationsDir(values, cwd));
    const m = graph.get(graph.resolveRevision(positionals[0]!));
    const head = graph.heads().includes(m.revision);
    out.result(migrationJson(m, { head, steps: true }));
    for (const line of describeMigration(m, { head, steps: true })) out.line(line);
    return ExitCode.ok;
  },
};

import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { commonOptions, helpRequested, migrationsDir, parseVerb } from '../args.ts';
import { createOutput, table } from '../output.ts';
import { loadGraph } from '../load-graph.ts';

const usage = 'heads [--migrations DIR] [--json]';

export const headsCommand: Command = {
  name: 'heads',
  summary: 'show the head revisions of the migration files',
  async run({ argv, stdout, stderr, cwd }) {
    const { values } = parseVerb(argv, { usage, options: commonOptions, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const graph = await loadGraph(migrationsDir(values, cwd));
    const heads = graph.heads().map((r) => graph.nodes.get(r)!);
    out.result({ heads: heads.map((m) => ({ revision: m.revision, file: m.file, description: m.description })) });
    for (const line of table(heads.map((m) => [m.revision, '(head)', m.description]))) out.line(line);
    if (heads.length > 1) out.note(`several heads: join them with \`offpeak merge heads\` (a merge migration with downRevision: [${heads.map((m) => `'${m.revision}'`).join(', ')}] and no steps), or apply both with \`offpeak upgrade heads\``);
    return ExitCode.ok;
  },
};

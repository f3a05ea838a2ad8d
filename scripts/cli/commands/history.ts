import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput, formatDuration } from '../output.ts';
import type { AppliedRow } from '../../../lambdas/core/migrations/ledger.ts';
import { loadGraph } from '../load-graph.ts';
import { describeMigration, migrationJson } from '../describe-migration.ts';
import { readStatus, writeStatusWarnings } from '../status.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import type { MigrationGraph } from '../../../lambdas/core/migrations/graph.ts';

const usage = 'history [-r [START]:[END]] [-i] [--verbose] [--migrations DIR] [target options with -i or current] [--json]';

/** One end of an Alembic range: base, head(s), current, or a revision; the set of nodes it stands for. */
function endpoint(graph: MigrationGraph, spec: string, current: () => string[]): string[] {
  if (spec === 'base') return [];
  if (spec === 'head' || spec === 'heads') return graph.heads();
  if (spec === 'current') return current();
  return [graph.resolveRevision(spec)];
}

/**
 * The revisions of `-r START:END`, both ends included as in Alembic: descendants of START that are ancestors of
 * END. An empty end is open (`:END`, `START:`).
 */
export function revisionRange(graph: MigrationGraph, range: string, current: () => string[]): Set<string> {
  const parts = range.split(':');
  if (parts.length !== 2) throw new ConfigError(`-r ${JSON.stringify(range)} is not a range: give START:END, e.g. -r 202508230001:head, -r :current or -r base:`);
  const [start, end] = parts as [string, string];
  let keep = new Set(graph.order);
  if (start && start !== 'base') keep = graph.descendants(endpoint(graph, start, current));
  if (end && end !== 'heads' && end !== 'head') {
    const below = graph.ancestors(endpoint(graph, end, current));
    keep = new Set([...keep].filter((r) => below.has(r)));
  }
  return keep;
}

/** The ledger's record of an applied migration, for --verbose --json (null when not applied here). */
function appliedJson(row: AppliedRow | undefined) {
  return row ? { at: row.appliedAt.toISOString(), actor: row.actor, durationMs: row.durationMs, recordedOnly: row.recordedOnly } : null;
}

/** Like `alembic history`: newest first, `down -> rev (head) (branchpoint) (mergepoint) (current), description`. */
export const historyCommand: Command = {
  name: 'history',
  summary: 'list the migrations, newest first, branch and merge points marked (-r A:B, -i, --verbose)',
  async run({ argv, stdout, stderr, env, cwd }) {
    const options = {
      ...migrationVerbOptions,
      verbose: { type: 'boolean', short: 'v' },
      'rev-range': { type: 'string', short: 'r' },
      'indicate-current': { type: 'boolean', short: 'i' },
    } as const;
    const { values } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const dir = migrationsDir(values, cwd);
    const range = values['rev-range'];
    // The database is read only when asked about: -i, or `current` as an end of the range.
    // --verbose reads it too, for when each applied migration was applied and how long it took.
    const needsDatabase = values['indicate-current'] || values.verbose || /(^|:)current(:|$)/.test(range ?? '');
    const read = needsDatabase ? await readStatus({ values, env, cwd, dir }) : undefined;
    const graph = read?.graph ?? (await loadGraph(dir));
    if (read) writeStatusWarnings(stderr, read.status);
    const current = new Set(read?.status.current.map((r) => graph.node(r)) ?? []);
    const shown = range === undefined ? undefined : revisionRange(graph, range, () => [...current]);

    const heads = new Set(graph.heads());
    const newestFirst = [...graph.order].reverse().filter((r) => !shown || shown.has(r)).map((r) => graph.nodes.get(r)!);
    const marks = (rev: string) => ({
      head: heads.has(rev),
      branchPoint: graph.children.get(rev)!.length > 1,
      mergePoint: graph.parents.get(rev)!.length > 1,
      current: current.has(rev),
    });
    out.result({
      ...(read ? { current: read.status.current, warnings: read.status.warnings } : {}),
      migrations: newestFirst.map((m) => ({
        ...migrationJson(m, { head: heads.has(m.revision), steps: values.verbose ?? false }),
        ...marks(m.revision),
        ...(values.verbose ? { applied: appliedJson(read?.applied.get(m.revision)) } : {}),
      })),
    });
    for (const m of newestFirst) {
      const k = marks(m.revision);
      const tags = `${k.head ? ' (head)' : ''}${k.branchPoint ? ' (branchpoint)' : ''}${k.mergePoint ? ' (mergepoint)' : ''}${k.current ? ' (current)' : ''}`;
      if (values.verbose) {
        const lines = describeMigration(m, { head: k.head, steps: false });
        lines[0] = `Rev: ${m.revision}${tags}`;
        const row = read?.applied.get(m.revision);
        if (row) lines.splice(1, 0, `Applied: ${row.appliedAt.toISOString()} by ${row.actor}, ${row.recordedOnly ? 'recorded without running' : `took ${formatDuration(row.durationMs)}`}`);
        for (const line of lines) out.line(line);
        out.line();
      } else {
        const down = m.downRevisions.length === 0 ? '<base>' : m.downRevisions.join(', ');
        out.line(`${down} -> ${m.revision}${tags}, ${m.description}`);
      }
    }
    return ExitCode.ok;
  },
};

import { withMigrator } from './session.ts';
import { loadGraph } from './load-graph.ts';
import { missingEmbeddedDatabase, requireExistingDatabase, resolveTarget, type TargetValues } from './target.ts';
import type { MigrationGraph } from '../../lambdas/core/migrations/graph.ts';
import type { StatusReport } from '../../lambdas/core/migrations/runner.ts';
import type { AppliedRow } from '../../lambdas/core/migrations/ledger.ts';

export interface StatusRead {
  status: StatusReport;
  graph: MigrationGraph;
  /** The embedded database directory that does not exist yet (nothing applied, and none created). */
  missing: string | undefined;
  /** The ledger's applied rows (when, by whom, how long), by revision. */
  applied: Map<string, AppliedRow>;
}

/**
 * What the status commands (current, history -i, show current) read: the target's status, which never refuses
 * (edited or missing applied files are warnings). A fresh clone's embedded database that does not exist yet
 * reads as nothing applied and is not created; an explicit --pglite-dir that does not exist is an error.
 */
export async function readStatus(input: { values: TargetValues & { migrations?: string | undefined }; env: NodeJS.ProcessEnv; cwd: string; dir: string }): Promise<StatusRead> {
  const target = resolveTarget(input.values, input.env, input.cwd);
  const missing = missingEmbeddedDatabase(target);
  if (missing !== undefined && target.kind === 'pglite' && target.explicit) requireExistingDatabase(target);
  if (missing === undefined) {
    return withMigrator({ ...input, readOnly: true }, async (migrator) => ({
      status: await migrator.status(),
      graph: migrator.graph,
      missing,
      applied: new Map((await migrator.ledger.applied()).map((r) => [r.revision, r])),
    }));
  }
  const graph = await loadGraph(input.dir);
  return { graph, missing, applied: new Map(), status: { current: [], heads: graph.heads(), pending: [...graph.order], adoptedFrom: null, warnings: [] } };
}

/** Status warnings, on stderr: a status command shows them and exits 0; `check` is the one that fails. */
export function writeStatusWarnings(stderr: NodeJS.WritableStream, status: StatusReport): void {
  for (const w of status.warnings) stderr.write(`warning: ${w} (\`offpeak check\` fails until it is fixed)\n`);
}

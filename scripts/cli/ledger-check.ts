import { Ledger } from '../../lambdas/core/migrations/ledger.ts';
import type { MigrationGraph } from '../../lambdas/core/migrations/graph.ts';
import type { TargetValues } from './target.ts';
import { withClient } from './session.ts';

/** True when the operator named a database (flag or DATABASE_URL), so `check` should read its ledger too. */
export function hasExplicitTarget(values: TargetValues, env: NodeJS.ProcessEnv): boolean {
  return Boolean(values['database-url'] ?? env['DATABASE_URL'] ?? values['resource-arn'] ?? values['data-api-endpoint'] ?? values['pglite-dir']);
}

/** Refuses applied revisions whose file is gone and changed checksums. Reads only: never creates the ledger. */
export async function verifyTargetLedger(graph: MigrationGraph, values: TargetValues, env: NodeJS.ProcessEnv, cwd: string): Promise<void> {
  await withClient(values, env, cwd, async (client) => {
    graph.verifyLedger(await new Ledger(client).applied());
  });
}

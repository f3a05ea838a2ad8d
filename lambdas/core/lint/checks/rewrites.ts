import type { Node } from 'libpg-query';
import { booleanOption, display, tableKey } from '../ast.ts';
import type { Scope } from '../unit.ts';

/** VACUUM FULL and CLUSTER rewrite the whole table under ACCESS EXCLUSIVE. */
export function checkRewrites(scope: Scope): void {
  const { type, body } = scope;
  if (type === 'VacuumStmt') {
    if (body['is_vacuumcmd'] !== true) return;
    const rels = ((body['rels'] as Node[] | undefined) ?? []).flatMap((r) => ('VacuumRelation' in r ? [tableKey(r.VacuumRelation.relation)] : []));
    if (scope.inTx) {
      scope.report('concurrency/in-transaction', 'VACUUM cannot run inside a transaction block', scope.script ? 'run it outside BEGIN … COMMIT' : "make it a mode: 'standalone' step, outside the migration's transaction");
    }
    if (booleanOption(body['options'] as Node[] | undefined, 'full') !== true) return;
    const existing = rels.length === 0 ? ['every table in the database'] : rels.filter((r) => !scope.isNew(r)).map((r) => display(r ?? '?'));
    if (existing.length === 0) return;
    scope.report(
      'locking/vacuum-full',
      `VACUUM FULL ${existing.join(', ')} rewrites under ACCESS EXCLUSIVE: reads and writes wait until it finishes`,
      'use pg_repack (online), or plain VACUUM (SHARE UPDATE EXCLUSIVE: reads and writes go on); to shrink an index, REINDEX … CONCURRENTLY',
    );
    return;
  }
  if (type === 'ClusterStmt') {
    const key = tableKey(body['relation'] as never);
    if (scope.isNew(key)) return;
    scope.report(
      'locking/cluster',
      `CLUSTER ${key ? display(key) : 'of every clustered table'} rewrites under ACCESS EXCLUSIVE: reads and writes wait until it finishes`,
      'use pg_repack --order-by (online); or build the index that gives the order CONCURRENTLY and let queries use it',
    );
  }
}

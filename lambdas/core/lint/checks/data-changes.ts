import type { Node } from 'libpg-query';
import { display, tableKey } from '../ast.ts';
import { blocked } from '../lock-levels.ts';
import type { Scope } from '../unit.ts';
import { wholeTableSource } from './steps.ts';
import { reportLongStep } from './timeouts.ts';

/**
 * Data changes: a backfill in the transaction that altered the table runs entirely under the
 * DDL's lock; a whole-table change in a transactional step can outrun the Data API's 45 s.
 */
export function checkDataChange(scope: Scope): void {
  const { type, body, state } = scope;
  if (type !== 'UpdateStmt' && type !== 'DeleteStmt' && type !== 'InsertStmt' && type !== 'MergeStmt') return;
  const key = tableKey(body['relation'] as never);
  if (!key) return;
  state.touched.add(key);
  if (scope.isNew(key)) return;
  const verb = { UpdateStmt: 'UPDATE', DeleteStmt: 'DELETE FROM', InsertStmt: 'INSERT INTO', MergeStmt: 'MERGE INTO' }[type];
  const source = type === 'InsertStmt' ? wholeTableSource(scope, body['selectStmt'] as Node | undefined) : undefined;
  // INSERT … VALUES writes the rows it lists: not a backfill.
  const writesMany = type !== 'InsertStmt' || ((body['selectStmt'] as { SelectStmt?: { fromClause?: unknown[] } } | undefined)?.SelectStmt?.fromClause?.length ?? 0) > 0;
  const held = state.held.get(key);
  if (held && writesMany) {
    scope.report(
      'locking/backfill-in-ddl-transaction',
      `${verb} ${display(key)} runs in the transaction that holds ${held.mode} on ${display(key)} (from ${held.by}): every row it writes keeps ${blocked(held.mode)} on ${display(key)} waiting until the transaction commits`,
      scope.script
        ? `COMMIT the DDL first; then backfill outside that transaction, in batches (${verb} … WHERE id >= … AND id < …), each committing on its own`
        : `move the backfill out of the DDL's transaction, into a later migration (or standalone steps, which each commit on their own), in batches (${verb} … WHERE id >= … AND id < …) that each stay well under the Data API's 45 s`,
    );
    return;
  }
  if ((type === 'UpdateStmt' || type === 'DeleteStmt') && !body['whereClause']) reportLongStep(scope, `${verb} ${display(key)} without WHERE`, key);
  else if (source) reportLongStep(scope, `INSERT INTO ${display(key)} … SELECT FROM ${display(source)}`, source);
}

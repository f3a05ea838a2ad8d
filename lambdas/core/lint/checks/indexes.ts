import type { Node } from 'libpg-query';
import { booleanOption, display, names, optionValues, tableKey } from '../ast.ts';
import type { Scope } from '../unit.ts';
import { checkConcurrentBuild } from './timeouts.ts';

/** CREATE INDEX, DROP INDEX and REINDEX: idempotency, CONCURRENTLY, and where CONCURRENTLY may run. */
export function checkIndexes(scope: Scope): void {
  const { type, body, state, config } = scope;
  switch (type) {
    case 'IndexStmt': {
      const key = tableKey(body['relation'] as never);
      const name = body['idxname'] as string | undefined;
      const concurrent = body['concurrent'] === true;
      const method = ((body['accessMethod'] as string | undefined) ?? 'btree').toLowerCase();
      if (key) state.touched.add(key);
      const label = `CREATE INDEX ${name ?? '(unnamed)'} ON ${key ? display(key) : '?'}`;
      if (!body['if_not_exists']) {
        scope.report('idempotency/create-index-if-not-exists', `${label} has no IF NOT EXISTS`, 'write CREATE INDEX CONCURRENTLY IF NOT EXISTS (or use the createIndex builder, which also repairs an INVALID leftover)');
      }
      if (!name || !name.startsWith(config.indexPrefix)) {
        scope.report('idempotency/index-prefix', `index ${name ?? '(unnamed)'} does not start with ${config.indexPrefix}`, `name it ${config.indexPrefix}<table>_<columns>; index-health advice only covers ${config.indexPrefix} indexes`);
      }
      if (concurrent) inTransactionCheck(scope, `${label} CONCURRENTLY`, 'createIndex does');
      if (concurrent) checkConcurrentBuild(scope, `${label} CONCURRENTLY`);
      if (!concurrent && !scope.isNew(key)) {
        scope.report(
          'concurrency/create-index',
          `${label} without CONCURRENTLY takes SHARE on ${key ? display(key) : 'the table'}: writes wait for the whole build`,
          scope.script
            ? 'use CREATE INDEX CONCURRENTLY IF NOT EXISTS, outside any BEGIN … COMMIT block'
            : 'use CREATE INDEX CONCURRENTLY IF NOT EXISTS in a standalone step: createIndex({...}) does it by default',
        );
      }
      if (method === 'ivfflat' && key && state.created.has(key)) {
        const lists = optionValues(body['options'] as Node[] | undefined)['lists'];
        scope.report(
          'pgvector/ivfflat-empty-table',
          `IVFFlat index ${name ?? ''} is built on ${display(key)}, created in the same migration: its ${lists ?? 100} lists are trained on an empty table and recall will be poor`,
          'create the IVFFlat index in a later migration, after loading data, with lists ≈ rows/1000 up to 1M rows and √rows above (REINDEX CONCURRENTLY to retrain); or use HNSW, which can be built on an empty table',
        );
      }
      if (name) state.createdIndexes.add(name);
      return;
    }
    case 'DropStmt': {
      if (body['removeType'] !== 'OBJECT_INDEX') return;
      const concurrent = body['concurrent'] === true;
      for (const o of (body['objects'] as Node[] | undefined) ?? []) {
        const parts = 'List' in o ? names(o.List.items) : [];
        const name = parts.at(-1) ?? '?';
        const key = state.indexTable.get(name);
        if (key) state.touched.add(key);
        const label = `DROP INDEX ${parts.join('.')}`;
        if (!body['missing_ok']) scope.report('idempotency/drop-index-if-exists', `${label} has no IF EXISTS`, 'write DROP INDEX CONCURRENTLY IF EXISTS (or use the dropIndex builder)');
        if (concurrent) inTransactionCheck(scope, `${label} CONCURRENTLY`, 'dropIndex does');
        if (concurrent) checkConcurrentBuild(scope, `${label} CONCURRENTLY`);
        if (!concurrent && !state.createdIndexes.has(name) && !scope.isNew(key)) {
          scope.report(
            'concurrency/drop-index',
            `${label} without CONCURRENTLY takes ACCESS EXCLUSIVE on ${key ? display(key) : 'its table'}: reads and writes wait until it is done`,
            scope.script ? 'use DROP INDEX CONCURRENTLY IF EXISTS, outside any BEGIN … COMMIT block' : 'use DROP INDEX CONCURRENTLY IF EXISTS in a standalone step: dropIndex({...}) does it by default',
          );
        }
      }
      return;
    }
    case 'ReindexStmt': {
      const kind = String(body['kind']);
      // REINDEX SYSTEM rebuilds catalogs only and has no CONCURRENTLY form.
      if (kind === 'REINDEX_OBJECT_SYSTEM') return;
      const concurrent = booleanOption(body['params'] as Node[] | undefined, 'concurrently') === true;
      const relation = (body['relation'] as { relname?: string } | undefined)?.relname;
      const key = kind === 'REINDEX_OBJECT_TABLE' ? tableKey(body['relation'] as never) : kind === 'REINDEX_OBJECT_INDEX' ? state.indexTable.get(relation ?? '') : undefined;
      const what = kind.replace('REINDEX_OBJECT_', '');
      const label = `REINDEX ${what} ${relation ?? (body['name'] as string | undefined) ?? ''}`.trim();
      if (concurrent) inTransactionCheck(scope, `${label} CONCURRENTLY`);
      if (concurrent) checkConcurrentBuild(scope, `${label} CONCURRENTLY`);
      if (!concurrent && !scope.isNew(key) && !(kind === 'REINDEX_OBJECT_INDEX' && state.createdIndexes.has(relation ?? ''))) {
        scope.report(
          'concurrency/reindex',
          `${label} without CONCURRENTLY takes SHARE on ${key ? display(key) : what === 'INDEX' ? 'its table' : 'each table'} and ACCESS EXCLUSIVE on each index: writes wait, and so do reads that use the index`,
          `use REINDEX (CONCURRENTLY) ${what} … ${scope.script ? 'outside any BEGIN … COMMIT block' : "in a mode: 'standalone' step with lock: 'concurrent'"}`,
        );
      }
      return;
    }
    default:
      return;
  }
}

export function inTransactionCheck(scope: Scope, label: string, builder?: string): void {
  if (!scope.inTx) return;
  scope.report(
    'concurrency/in-transaction',
    `${label} inside a transaction fails: it cannot run inside a transaction block`,
    scope.script ? 'run it outside BEGIN … COMMIT' : `make it a mode: 'standalone' step${builder ? ` (${builder})` : ''}, outside the migration's transaction`,
  );
}

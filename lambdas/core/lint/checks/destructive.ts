import type { Node } from 'libpg-query';
import { display, nameKey, names, tableKey } from '../ast.ts';
import type { Scope } from '../unit.ts';

/**
 * Destructive and client-breaking DDL: drops, truncates, "create with force", renames. Judged in
 * a module's up direction and in .sql files: a down direction undoes the up, and what it loses is
 * for the rollbackPlan to say. Each of these raises the migration's effective risk (rules.ts).
 */
const LATER_DROP =
  'first deploy code that no longer uses it; then drop it in a migration of its own, with a rollbackPlan (e.g. restore from the pre-deployment snapshot) and a lint.disable of this rule giving the reason, e.g. "unused since release 41"';

export function checkDestructive(scope: Scope): void {
  const { type, body, state } = scope;
  switch (type) {
    case 'DropStmt': {
      const removeType = body['removeType'] as string;
      if (removeType === 'OBJECT_TABLE') {
        for (const o of (body['objects'] as Node[] | undefined) ?? []) {
          const key = nameKey('List' in o ? names(o.List.items) : []);
          if (!key) continue;
          state.touched.add(key);
          if (state.created.has(key) || !scope.judgesDestructive) continue;
          const recreated = (state.createdAtIndexes.get(key) ?? []).some((i) => i > scope.index);
          if (recreated) {
            scope.report(
              'destructive/create-with-force',
              `DROP TABLE ${body['missing_ok'] ? 'IF EXISTS ' : ''}${display(key)} before CREATE TABLE ${display(key)} replaces the existing table: its rows are gone, and clients see an empty table`,
              `CREATE TABLE IF NOT EXISTS ${display(key)} (…) creates it only where it is missing; if the old table must go, drop it in a migration of its own (see destructive/drop-table)`,
            );
          } else {
            scope.report(
              'destructive/drop-table',
              `DROP TABLE ${display(key)} deletes the table and its rows, and every client that still queries ${display(key)} fails`,
              LATER_DROP,
            );
          }
        }
      } else if (removeType === 'OBJECT_SCHEMA' && scope.judgesDestructive) {
        for (const o of (body['objects'] as Node[] | undefined) ?? []) {
          const schema = 'String' in o ? (o.String.sval ?? '') : '';
          if (state.createdSchemas.has(schema)) continue;
          const cascade = body['behavior'] === 'DROP_CASCADE';
          scope.report(
            'destructive/drop-schema',
            `DROP SCHEMA ${schema}${cascade ? ' CASCADE deletes every table, view and function in it, with their data' : ' removes the schema'}, and every client that names ${schema} fails`,
            `move what is still used out of ${schema} first; drop it empty, without CASCADE, in a migration of its own with a rollbackPlan and a lint.disable of this rule giving the reason`,
          );
        }
      }
      return;
    }
    case 'DropdbStmt':
      if (!scope.judgesDestructive) return;
      scope.report('destructive/drop-database', `DROP DATABASE ${String(body['dbname'])} deletes a whole database`, 'drop databases by hand, after a backup, not in a migration');
      return;
    case 'TruncateStmt': {
      if (!scope.judgesDestructive) return;
      const cascade = body['behavior'] === 'DROP_CASCADE';
      for (const r of (body['relations'] as Node[] | undefined) ?? []) {
        const key = 'RangeVar' in r ? tableKey(r.RangeVar) : undefined;
        if (key) state.touched.add(key);
        if (!key || scope.isNew(key)) continue;
        scope.report(
          'destructive/truncate',
          `TRUNCATE ${display(key)}${cascade ? ' CASCADE' : ''} deletes every row under ACCESS EXCLUSIVE${cascade ? ', and CASCADE also empties every table with a foreign key to it' : ''}`,
          `to remove some rows, DELETE FROM ${display(key)} WHERE … in batches (ROW EXCLUSIVE: reads and writes go on); if emptying it is the point, do it without CASCADE in a migration of its own with a rollbackPlan and a lint.disable of this rule giving the reason`,
        );
      }
      return;
    }
    case 'RenameStmt': {
      const renameType = body['renameType'] as string;
      const key = tableKey(body['relation'] as never);
      if (key) state.touched.add(key);
      if (renameType === 'OBJECT_SCHEMA') {
        const schema = String(body['subname']);
        if (!scope.judgesDestructive || state.createdSchemas.has(schema)) return;
        scope.report(
          'compat/rename-schema',
          `renaming schema ${schema} to ${String(body['newname'])} breaks every running client that names ${schema}`,
          `CREATE SCHEMA ${String(body['newname'])}, create the tables there (or views over the old ones), have clients use both, move the data in batches, switch reads, then drop ${schema} in a later migration`,
        );
        return;
      }
      if ((renameType === 'OBJECT_COLUMN' || renameType === 'OBJECT_TABLE') && !scope.isNew(key)) {
        const what = renameType === 'OBJECT_COLUMN' ? `column ${display(key ?? '?')}.${String(body['subname'])}` : `table ${display(key ?? '?')}`;
        scope.report(
          'locking/rename',
          `renaming ${what} to ${String(body['newname'])} breaks every running client that still uses the old name`,
          renameType === 'OBJECT_COLUMN'
            ? 'expand/contract: add the new column, write both, backfill in batches, switch reads, drop the old column in a later release'
            : `in one transaction: ALTER TABLE ${display(key ?? 't')} RENAME TO ${String(body['newname'])}; CREATE VIEW ${display(key ?? 't')} AS SELECT * FROM ${String(body['newname'])} (a simple view takes inserts, updates and deletes) until every client has moved; drop the view later`,
        );
      }
      return;
    }
    case 'AlterEnumStmt': {
      if (body['oldVal'] === undefined || !scope.judgesDestructive) return;
      const type = names(body['typeName'] as Node[] | undefined).join('.');
      scope.report(
        'compat/rename-enum-value',
        `renaming value '${String(body['oldVal'])}' of enum ${type} to '${String(body['newVal'])}' breaks every running client that reads or writes '${String(body['oldVal'])}'`,
        `ALTER TYPE ${type} ADD VALUE IF NOT EXISTS '${String(body['newVal'])}' (a standalone step; it locks no table), make clients accept both values and write the new one, then move rows from the old value in batches (the old value stays: PostgreSQL cannot drop an enum value)`,
      );
      return;
    }
    default:
      return;
  }
}

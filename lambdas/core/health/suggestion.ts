import { displayIdent } from '../db/sql.ts';
import type { DropSuggestion } from './report.ts';

const CREATE_INDEX = /^CREATE (UNIQUE )?INDEX /;

/**
 * Turns `pg_get_indexdef` output (`CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING …`)
 * into the restore statement `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS name ON …`.
 */
export function restoreStatement(definition: string): string {
  if (!CREATE_INDEX.test(definition)) {
    throw new TypeError(`not an index definition from pg_get_indexdef: ${definition.slice(0, 80)}`);
  }
  return definition.replace(CREATE_INDEX, (_match, unique: string | undefined) => `CREATE ${unique ?? ''}INDEX CONCURRENTLY IF NOT EXISTS `);
}

export function dropSuggestion(schema: string, index: string, definition: string): DropSuggestion {
  return {
    drop: `DROP INDEX CONCURRENTLY IF EXISTS ${displayIdent(schema)}.${displayIdent(index)}`,
    restore: restoreStatement(definition),
  };
}

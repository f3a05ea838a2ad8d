import { quoteIdent } from '../db/sql.ts';
import type { DropSuggestion } from './report.ts';

/** PostgreSQL's reserved key words (those that cannot be a bare column or table name). */
const RESERVED = new Set(
  `all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation column
  concurrently constraint create cross current_catalog current_date current_role current_schema current_time
  current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign freeze from
  full grant group having ilike in initially inner intersect into is isnull join lateral leading left like limit localtime
  localtimestamp natural not notnull null offset on only or order outer overlaps placing primary references returning right
  select session_user similar some symmetric system_user table tablesample then to trailing true union unique user using
  variadic verbose when where window with`.split(/\s+/),
);

/** Quotes an identifier only where PostgreSQL needs it, as `quote_ident` does, so statements stay readable. */
export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : quoteIdent(name);
}

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

import { displayIdent } from '../db/sql.ts';
import type { DropSuggestion } from './report.ts';

const CREATE_INDEX = /^CREATE (UNIQUE )?INDEX /;

/**
 * Turns `pg_get_indexdef` output (`CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING …`)
 * into the restore statement `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS name ON …`.
 * A partitioned index cannot be built CONCURRENTLY: its restore is `CREATE INDEX IF NOT EXISTS name
 * ON schema.table …` without ONLY, which builds it on every partition too.
 */
export function restoreStatement(definition: string, partitioned = false): string {
  if (!CREATE_INDEX.test(definition)) {
    throw new TypeError(`not an index definition from pg_get_indexdef: ${definition.slice(0, 80)}`);
  }
  const concurrently = partitioned ? '' : 'CONCURRENTLY ';
  const statement = definition.replace(CREATE_INDEX, (_match, unique: string | undefined) => `CREATE ${unique ?? ''}INDEX ${concurrently}IF NOT EXISTS `);
  return partitioned ? statement.replace(/ ON ONLY /, ' ON ') : statement;
}

export interface SuggestionOptions {
  /** An index on a partitioned table: plain DROP INDEX (CONCURRENTLY is refused there). */
  partitioned?: boolean;
  /** Statements that restore what the definition leaves out (comment, CLUSTER mark, statistics targets). */
  extras?: readonly string[];
}

export function dropSuggestion(schema: string, index: string, definition: string, options: SuggestionOptions = {}): DropSuggestion {
  const partitioned = options.partitioned ?? false;
  return {
    drop: `DROP INDEX ${partitioned ? '' : 'CONCURRENTLY '}IF EXISTS ${displayIdent(schema)}.${displayIdent(index)}`,
    restore: [restoreStatement(definition, partitioned), ...(options.extras ?? [])].join(';\n'),
  };
}

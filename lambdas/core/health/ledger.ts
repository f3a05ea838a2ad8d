import type { SqlExecutor } from '../db/client.ts';
import { quoteIdent, sql, type SqlQuery } from '../db/sql.ts';
import { DatabaseError } from '../errors.ts';
import { CONCURRENT_CREATE_SQLSTATES } from '../db/sqlstate.ts';

/**
 * The health job's own tables in the ledger schema (default `offpeak`, shared with
 * the migration engine, which owns `migration_tables`):
 * - `index_usage_snapshots`: one row per index per nightly snapshot. An index is
 *   identified by its oid *and* a hash of its definition (see `indexIdentityHash`),
 *   so an index dropped and recreated under the same name, or an oid reused after
 *   wraparound, starts a new history instead of inheriting the old one's.
 * - `analyze_queue`: tables still to ANALYZE; what a night could not finish stays here
 *   and the next night resumes from it.
 * - `analyze_log`: what ANALYZE did (table, reason, start, duration, outcome).
 */
export const HEALTH_TABLES = {
  snapshots: 'index_usage_snapshots',
  analyzeQueue: 'analyze_queue',
  analyzeLog: 'analyze_log',
  migrationTables: 'migration_tables',
} as const;

export type HealthTable = keyof typeof HEALTH_TABLES;

export function ledgerTable(schema: string, table: HealthTable) {
  return sql.ident(schema, HEALTH_TABLES[table]);
}

/** `"schema"."table"` as text, for `to_regclass(…)`. */
export function ledgerTableName(schema: string, table: HealthTable): string {
  return `${quoteIdent(schema)}.${quoteIdent(HEALTH_TABLES[table])}`;
}

function ddl(schema: string): SqlQuery[] {
  return [
    sql`CREATE SCHEMA IF NOT EXISTS ${sql.ident(schema)}`,
    sql`CREATE TABLE IF NOT EXISTS ${ledgerTable(schema, 'snapshots')} (
      index_oid bigint NOT NULL,
      def_hash text NOT NULL,
      taken_at timestamptz NOT NULL,
      schema_name text NOT NULL,
      table_name text NOT NULL,
      index_name text NOT NULL,
      idx_scan bigint NOT NULL,
      idx_tup_read bigint NOT NULL,
      idx_tup_fetch bigint NOT NULL,
      last_idx_scan timestamptz,
      index_bytes bigint NOT NULL,
      table_bytes bigint NOT NULL,
      stats_reset timestamptz,
      PRIMARY KEY (index_oid, def_hash, taken_at))`,
    // Retention deletes by age across all indexes.
    sql`CREATE INDEX IF NOT EXISTS index_usage_snapshots_taken_at ON ${ledgerTable(schema, 'snapshots')} (taken_at)`,
    sql`CREATE TABLE IF NOT EXISTS ${ledgerTable(schema, 'analyzeQueue')} (
      schema_name text NOT NULL,
      table_name text NOT NULL,
      reason text NOT NULL,
      queued_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (schema_name, table_name))`,
    sql`CREATE TABLE IF NOT EXISTS ${ledgerTable(schema, 'analyzeLog')} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      schema_name text NOT NULL,
      table_name text NOT NULL,
      reason text NOT NULL,
      started_at timestamptz NOT NULL,
      duration_ms bigint NOT NULL,
      outcome text NOT NULL CHECK (outcome IN ('analyzed', 'still_running', 'skipped', 'failed')),
      error text)`,
  ];
}

/** Creates the schema and the health tables if missing. Idempotent; safe when two runs start together. */
export async function ensureHealthLedger(client: SqlExecutor, schema: string): Promise<void> {
  for (const statement of ddl(schema)) {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(statement);
        break;
      } catch (error) {
        if (attempt < 10 && error instanceof DatabaseError && CONCURRENT_CREATE_SQLSTATES.has(error.sqlState ?? '')) continue;
        throw error;
      }
    }
  }
}

/**
 * The identity of an index across snapshots, beside its oid: a hash of what makes
 * it *this* index (table, name, access method, columns, opclasses, collations,
 * options, expressions, predicate). A rename or REINDEX CONCURRENTLY starts a new
 * history, which errs on the safe side: no drop advice until the new history is long enough.
 * `i` is pg_index, `ic` the index's pg_class row.
 */
export const indexIdentityHash = sql`md5(concat_ws('|', i.indrelid, ic.relname, ic.relam, i.indkey, i.indclass,
  i.indcollation, i.indoption, pg_get_expr(i.indexprs, i.indrelid), pg_get_expr(i.indpred, i.indrelid)))`;

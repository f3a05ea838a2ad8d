import type { SqlClient } from '../db/client.ts';
import { sql } from '../db/sql.ts';
import { userSchemaFilter } from './catalog.ts';
import { ensureHealthLedger, indexIdentityHash, ledgerTable } from './ledger.ts';
import { resolveHealthOptions, type HealthOptions } from './options.ts';

export interface SnapshotInput {
  client: SqlClient;
  options?: Partial<HealthOptions> | undefined;
  now?: Date | undefined;
}

export interface SnapshotResult {
  takenAt: Date;
  /** Indexes recorded. */
  indexes: number;
  /** Snapshot rows deleted by retention. */
  deleted: number;
  statsResetAt: Date | null;
}

/**
 * Records every user index's usage counters, sizes and the database's stats reset
 * time in one INSERT … SELECT (no statement per index), then applies retention.
 * Taking two snapshots at the same instant is a no-op the second time.
 */
export async function takeUsageSnapshot(input: SnapshotInput): Promise<SnapshotResult> {
  const options = resolveHealthOptions(input.options);
  const now = input.now ?? new Date();
  const { client } = input;
  await ensureHealthLedger(client, options.ledgerSchema);
  const { rows } = await client.query<{ version_num: number; stats_reset: Date | null }>(
    sql`SELECT current_setting('server_version_num')::int AS version_num,
      (SELECT d.stats_reset FROM pg_stat_database d WHERE d.datname = current_database()) AS stats_reset`,
  );
  const version = Number(rows[0]!.version_num);
  const lastScan = version >= 160000 ? sql`su.last_idx_scan` : sql`NULL::timestamptz`;
  const at = sql`to_timestamp(${now.getTime() / 1000}::float8)`;
  const snapshots = ledgerTable(options.ledgerSchema, 'snapshots');
  const inserted = await client.query(sql`INSERT INTO ${snapshots} (index_oid, def_hash, taken_at, schema_name, table_name,
      index_name, idx_scan, idx_tup_read, idx_tup_fetch, last_idx_scan, index_bytes, table_bytes, stats_reset)
    SELECT i.indexrelid::bigint, ${indexIdentityHash}, ${at}, n.nspname, tc.relname, ic.relname,
      coalesce(su.idx_scan, 0), coalesce(su.idx_tup_read, 0), coalesce(su.idx_tup_fetch, 0), ${lastScan},
      pg_relation_size(i.indexrelid), pg_table_size(i.indrelid),
      (SELECT d.stats_reset FROM pg_stat_database d WHERE d.datname = current_database())
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_class tc ON tc.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = tc.relnamespace
    LEFT JOIN pg_stat_user_indexes su ON su.indexrelid = i.indexrelid
    WHERE tc.relkind IN ('r', 'm', 'p') AND ${userSchemaFilter('n', options.ledgerSchema)}
    ON CONFLICT DO NOTHING`);
  const deleted = await client.query(
    sql`DELETE FROM ${snapshots} WHERE taken_at < ${at} - make_interval(days => ${options.retentionDays}::int)`,
  );
  return { takenAt: now, indexes: inserted.rowCount, deleted: deleted.rowCount, statsResetAt: rows[0]!.stats_reset };
}

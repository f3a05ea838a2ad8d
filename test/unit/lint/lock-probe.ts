import { sql } from '../../../lambdas/core/db/sql.ts';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { LOCK_MODES, strength, type LockMode } from '../../../lambdas/core/lint/lock-levels.ts';

/**
 * What a statement really locks: run it in a transaction, read this backend's pg_locks (a
 * transaction sees its own locks, so this works on PGlite too), roll back. Relations are looked up
 * by OID taken beforehand, so a dropped table is still named.
 */
class Rollback extends Error {}

const MODE_NAMES = new Map<string, LockMode>(LOCK_MODES.map((m) => [`${m.split(' ').map((w) => w[0] + w.slice(1).toLowerCase()).join('')}Lock`, m]));

export interface Probe {
  /** Strongest mode per relation (schema.name) held at the end. */
  locks: Map<string, LockMode>;
  /** Sequential scans per table (pg_stat_xact_user_tables): a validation or rewrite scans, a catalog-only change does not. */
  scans: Map<string, number>;
  /** Tables whose storage was replaced (pg_relation_filenode changed): a rewrite. */
  rewritten: Set<string>;
}

/** Strongest mode per relation (schema.name) the statements leave held; statements run in order, in one transaction. */
export async function locksTaken(client: SqlClient, ...statements: string[]): Promise<Map<string, LockMode>> {
  return (await probe(client, ...statements)).locks;
}

/** Runs the statements in one transaction, reads what they did, and rolls back. */
export async function probe(client: SqlClient, ...statements: string[]): Promise<Probe> {
  const names = new Map(
    (
      await client.query<{ oid: number; name: string }>(
        sql`SELECT c.oid::int AS oid, n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`,
      )
    ).rows.map((r) => [r.oid, r.name]),
  );
  const filenodes = sql`SELECT n.nspname || '.' || c.relname AS name, pg_relation_filenode(c.oid)::bigint::text AS node FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`;
  const before = new Map((await client.query<{ name: string; node: string }>(filenodes)).rows.map((r) => [r.name, r.node]));
  const out = new Map<string, LockMode>();
  const scans = new Map<string, number>();
  const rewritten = new Set<string>();
  try {
    const scanCounts = sql`SELECT schemaname || '.' || relname AS name, seq_scan::int AS n FROM pg_stat_xact_user_tables`;
    await client.transaction(async (tx) => {
      // PGlite's single backend may carry counts not yet flushed from earlier transactions: count the difference.
      const start = new Map((await tx.query<{ name: string; n: number }>(scanCounts)).rows.map((r) => [r.name, r.n]));
      for (const s of statements) await tx.query(sql`${sql.raw(s)}`);
      for (const r of (await tx.query<{ name: string; n: number }>(scanCounts)).rows) scans.set(r.name, r.n - (start.get(r.name) ?? 0));
      for (const r of (await tx.query<{ name: string; node: string }>(filenodes)).rows) if (before.has(r.name) && before.get(r.name) !== r.node) rewritten.add(r.name);
      const rows = await tx.query<{ relation: number; mode: string }>(
        sql`SELECT relation::int AS relation, mode FROM pg_locks WHERE locktype = 'relation' AND pid = pg_backend_pid() AND granted`,
      );
      for (const r of rows.rows) {
        const name = names.get(r.relation);
        const mode = MODE_NAMES.get(r.mode);
        if (!name || !mode) continue;
        const held = out.get(name);
        if (!held || strength(mode) > strength(held)) out.set(name, mode);
      }
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
  return { locks: out, scans, rewritten };
}

/**
 * PostgreSQL only (a second and third connection): the lock `statement` asks for on `table`, seen
 * while it waits behind a SHARE UPDATE EXCLUSIVE held by another session, and whether a write to
 * the table from a third session gets through meanwhile (a queued strong lock would hold it up:
 * the write runs under `writeTimeout`). For statements that cannot run in a transaction block
 * (CONCURRENTLY work, VACUUM), whose locks the in-transaction probe cannot see.
 */
export async function queuedLock(url: string, options: { table: string; statement: string; write: string; writeTimeout?: string }): Promise<{ mode: LockMode; writeWentThrough: boolean }> {
  const pg = (await import('pg')).default;
  const [holder, runner, observer] = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
  await Promise.all([holder.connect(), runner.connect(), observer.connect()]);
  try {
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE ${options.table} IN SHARE UPDATE EXCLUSIVE MODE`);
    const pid = (await runner.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const running = runner.query(options.statement).then(
      () => undefined,
      (error: unknown) => error,
    );
    let mode: LockMode | undefined;
    for (const deadline = Date.now() + 30_000; !mode && Date.now() < deadline; ) {
      const rows = await observer.query<{ mode: string }>(`SELECT mode FROM pg_locks WHERE pid = $1 AND NOT granted AND relation = $2::regclass`, [pid, options.table]);
      mode = rows.rows[0] ? MODE_NAMES.get(rows.rows[0].mode) : undefined;
      if (!mode) await new Promise((r) => setTimeout(r, 20));
    }
    if (!mode) throw new Error(`${options.statement} never queued for a lock on ${options.table}`);
    await observer.query(`SET lock_timeout = '${options.writeTimeout ?? '10s'}'`);
    const writeWentThrough = await observer.query(options.write).then(
      () => true,
      (error: { code?: string }) => {
        if (error.code === '55P03') return false;
        throw error;
      },
    );
    await holder.query('ROLLBACK');
    const failure = await running;
    if (failure) throw failure;
    return { mode, writeWentThrough };
  } finally {
    await Promise.all([holder.end(), runner.end(), observer.end()]);
  }
}

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

/** Strongest mode per relation (schema.name) the statements leave held; statements run in order, in one transaction. */
export async function locksTaken(client: SqlClient, ...statements: string[]): Promise<Map<string, LockMode>> {
  const names = new Map(
    (
      await client.query<{ oid: number; name: string }>(
        sql`SELECT c.oid::int AS oid, n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`,
      )
    ).rows.map((r) => [r.oid, r.name]),
  );
  const out = new Map<string, LockMode>();
  try {
    await client.transaction(async (tx) => {
      for (const s of statements) await tx.query(sql`${sql.raw(s)}`);
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
  return out;
}

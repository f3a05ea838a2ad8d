import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { fromModules } from '../../../lambdas/core/migrations/loader.ts';
import type { LoadedMigration } from '../../../lambdas/core/migrations/model.ts';
import { migrations } from '../../../migrations/_index.ts';

/** The seed migrations as a bundle (and the crash child) loads them. */
export const seed: LoadedMigration[] = fromModules(migrations);
export const seedHead = '803b93aca2d2';
export const seedBaseline = '202508010000';

/**
 * Compares the ledger with the schema and returns every mismatch (empty when they agree):
 * - every applied migration's builder indexes exist and are valid; no index of an unapplied migration
 *   exists (a step whose extension is unavailable counts as never built);
 * - the baseline's tables exist exactly when the baseline is applied;
 * - no INVALID index anywhere;
 * - applied checksums are the files' checksums;
 * - the event journal: no run left in progress or failed, no step done twice in one run, and the last
 *   event of every step of an applied migration's up direction is done or skipped.
 */
export async function ledgerMismatches(client: SqlClient, schema = 'offpeak'): Promise<string[]> {
  const problems: string[] = [];
  const t = (name: string) => sql.ident(schema, name);
  const applied = new Map(
    (await client.query<{ revision: string; checksum: string }>(sql`SELECT revision, checksum FROM ${t('applied_migrations')}`)).rows.map((r) => [r.revision, r.checksum]),
  );
  const extensions = new Set((await client.query<{ name: string }>(sql`SELECT name FROM pg_available_extensions`)).rows.map((r) => r.name));
  const catalog = new Map(
    (
      await client.query<{ name: string; valid: boolean }>(sql`
        SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'`)
    ).rows.map((r) => [r.name, r.valid]),
  );
  for (const m of seed) {
    const isApplied = applied.has(m.revision);
    if (isApplied && applied.get(m.revision) !== m.checksum) problems.push(`${m.revision}: ledger checksum differs from the file's`);
    for (const step of m.up) {
      if (step.kind !== 'create_index') continue;
      const built = isApplied && (!step.when || extensions.has(step.when.extensionAvailable));
      const state = catalog.get(step.index.name);
      if (built && state !== true) problems.push(`${m.revision} is applied but ${step.index.name} is ${state === false ? 'INVALID' : 'missing'}`);
      if (!built && state !== undefined) problems.push(`${m.revision} is ${isApplied ? 'applied with the step skipped' : 'not applied'} but ${step.index.name} exists`);
    }
  }
  const { rows: usersTable } = await client.query<{ ok: boolean }>(sql`SELECT to_regclass('public.users') IS NOT NULL AS ok`);
  if ((usersTable[0]?.ok === true) !== applied.has(seedBaseline)) problems.push(`baseline ${applied.has(seedBaseline) ? 'applied but public.users is missing' : 'not applied but public.users exists'}`);

  const { rows: invalid } = await client.query<{ name: string }>(sql`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid`);
  for (const r of invalid) problems.push(`INVALID index ${r.name}`);

  const { rows: open } = await client.query<{ run_id: string; status: string }>(
    sql`SELECT run_id, status FROM ${t('migration_runs')} WHERE status IN ('in_progress', 'window_closed', 'failed')`,
  );
  for (const r of open) problems.push(`run ${r.run_id} left ${r.status}`);
  const { rows: twice } = await client.query<{ revision: string; direction: string; step: number }>(sql`
    SELECT revision, direction, step FROM ${t('migration_events')} WHERE status = 'done'
    GROUP BY run_id, revision, direction, step HAVING count(*) > 1`);
  for (const r of twice) problems.push(`${r.revision} ${r.direction} step ${r.step} done twice in one run`);
  const { rows: last } = await client.query<{ revision: string; step: number; status: string }>(sql`
    SELECT DISTINCT ON (revision, step) revision, step, status FROM ${t('migration_events')}
    WHERE direction = 'up' AND step >= 0 ORDER BY revision, step, id DESC`);
  for (const r of last) {
    if (applied.has(r.revision) && r.status !== 'done' && r.status !== 'skipped') problems.push(`${r.revision} is applied but up step ${r.step} last says ${r.status}`);
  }
  return problems;
}

/** Drops everything the seed and the ledger created, for the next trial. */
export async function resetSeed(client: SqlClient, schema = 'offpeak'): Promise<void> {
  await client.query(sql`DROP SCHEMA IF EXISTS ${sql.ident(schema)} CASCADE`);
  await client.query(sql`DROP SCHEMA public CASCADE`);
  await client.query(sql`CREATE SCHEMA public`);
}

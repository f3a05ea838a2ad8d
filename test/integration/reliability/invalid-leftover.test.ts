import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import type { MigrationEvent } from '../../../lambdas/core/migrations/events.ts';
import { createMigrator } from '../../../lambdas/core/migrations/runner.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { ledgerMismatches, seed } from './seed-ledger.ts';

// Runs on PGlite by default and on PostgreSQL with TEST_DATABASE_URL (superuser on the scratch database either way).
describe('an INVALID index with a builder’s name (seed, 803b93aca2d2)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.dispose();
  });

  const indexState = async (name: string) =>
    (
      await db.client.query<{ oid: number; valid: boolean; def: string }>(sql`
        SELECT c.oid::int8 AS oid, i.indisvalid AS valid, pg_get_indexdef(c.oid) AS def
        FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.oid = to_regclass(${`public.${name}`})`)
    ).rows[0];

  it('is dropped and rebuilt by the upgrade, not skipped by IF NOT EXISTS', async () => {
    // Prepare: the seed up to 202508230001, then a leftover of a failed build: wrong definition, marked INVALID
    const events: MigrationEvent[] = [];
    const migrator = createMigrator({ client: db.client, migrations: seed, actor: 'test', pollIntervalMs: 50, deadlineMarginMs: 0, onEvent: (e) => events.push(e) });
    expect((await migrator.runToCompletion('up', '202508230001')).status).toBe('done');
    await db.client.query(sql`CREATE INDEX idx_users_lower_email ON public.users (id)`);
    await db.client.query(sql`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'public.idx_users_lower_email'::regclass`);
    const leftover = await indexState('idx_users_lower_email');
    expect(leftover?.valid).toBe(false);

    // Act
    const result = await migrator.runToCompletion('up', 'head');

    // Assess: a new, valid index with the migration's definition; the drop was reported; the ledger matches
    expect(result.status, result.error?.message).toBe('done');
    const rebuilt = await indexState('idx_users_lower_email');
    expect(rebuilt?.valid).toBe(true);
    expect(rebuilt?.oid).not.toBe(leftover?.oid);
    expect(rebuilt?.def).toContain('lower(email)');
    expect(rebuilt?.def).toContain('WHERE (email IS NOT NULL)');
    expect(events).toContainEqual(expect.objectContaining({ event: 'invalid_index_dropped', revision: '803b93aca2d2', index: 'idx_users_lower_email' }));
    expect(result.verification?.indexes).toContainEqual({ schema: 'public', name: 'idx_users_lower_email', expected: 'valid', exists: true, valid: true });
    expect(await ledgerMismatches(db.client)).toEqual([]);
  });
});

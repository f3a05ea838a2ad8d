import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { createIndex, defineMigration, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { harness, indexes } from '../migrations/helpers.ts';
import { until } from '../../support/wait.ts';
import { lacks } from '../../support/prerequisites.ts';

/**
 * The runner recognises "its" build still running (after a crash or a Data API timeout) by the statement text
 * in pg_stat_activity and by pg_stat_progress_create_index. Both views cover the whole cluster: the same
 * migration running in another database of the server (another tenant, a parallel CI job) must not count.
 */
describe.skipIf(lacks('postgresql'))('the same migration building in another database of the server (PostgreSQL)', () => {
  let mine: TestDatabase;
  let other: TestDatabase;
  let writer: pg.Client;
  let builder: pg.Client;
  beforeAll(async () => {
    [mine, other] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    writer = new pg.Client({ connectionString: other.url });
    builder = new pg.Client({ connectionString: other.url });
    await Promise.all([writer.connect(), builder.connect()]);
  });
  afterAll(async () => {
    await writer?.end().catch(() => {});
    await builder?.end().catch(() => {});
    await Promise.all([mine?.dispose(), other?.dispose()]);
  });

  const migration = defineMigration({
    revision: '202601020001',
    downRevision: null,
    description: 'widgets and their index',
    risk: 'low',
    up: [
      sqlStep('CREATE TABLE public.xdb_widgets (id bigint PRIMARY KEY, v integer NOT NULL)', { tables: ['public.xdb_widgets'] }),
    ],
    down: [sqlStep('DROP TABLE public.xdb_widgets')],
  });
  const indexMigration = defineMigration({
    revision: '202601020002',
    downRevision: '202601020001',
    description: 'index widgets by v',
    risk: 'low',
    up: [createIndex({ name: 'idx_xdb_widgets_v', table: 'xdb_widgets', columns: ['v'] })],
  });

  it('does not wait for a build of the same statement in another database', async () => {
    // Prepare: in the other database, the identical CIC is stuck behind a writer's open transaction
    const { migrator: theirs } = harness(other.client, [migration], { schema: 'offpeak' });
    expect((await theirs.runToCompletion('up', 'head')).status).toBe('done');
    await writer.query('BEGIN');
    await writer.query('UPDATE public.xdb_widgets SET v = v');
    const stuck = builder.query(indexMigration.up[0]!.sql).catch((error: unknown) => error);
    // Watched from another connection: inside the writer's transaction pg_stat_activity is a frozen snapshot.
    await until('the other database’s CIC to wait on the writer', async () => (await other.client.query(
      sql`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'CREATE INDEX CONCURRENTLY%idx_xdb_widgets_v%'`,
    )).rows.length > 0);
    const { migrator } = harness(mine.client, [migration, indexMigration], { schema: 'offpeak' });

    // Act: a deadline far beyond a normal build; the other build stays stuck throughout
    const t0 = Date.now();
    const result = await migrator.runToCompletion('up', 'head', { deadline: new Date(Date.now() + 8000) });
    const elapsedMs = Date.now() - t0;
    await writer.query('COMMIT');
    await stuck;

    // Assess: built here, without waiting out the other database's build
    expect(result.status, `${result.status} after ${elapsedMs} ms: ${result.error?.message ?? ''}`).toBe('done');
    expect(await indexes(mine.client, 'public')).toEqual([{ name: 'idx_xdb_widgets_v', valid: true }]);
  });
});

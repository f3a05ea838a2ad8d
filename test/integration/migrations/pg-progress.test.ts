import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgClient } from '../../../lambdas/core/db/pg.ts';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { runCli, scratchDir, writeMigration } from '../../support/cli.ts';
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from '../../support/database.ts';
import { harness, indexes, slowIndexMigration, uniqueName } from './helpers.ts';

/**
 * On PostgreSQL a pg client made with `stillRunningAfterMs` hands a long build back as still running, so the
 * runner follows it from a second connection (pg_stat_progress_create_index: the CLI's progress bar) and still
 * gets the build's own error when it fails. PostgreSQL only: PGlite is one connection on the JS thread.
 */
describe.skipIf(!testDatabaseUrl)('index builds followed from a second connection on pg (PostgreSQL)', () => {
  let db: TestDatabase;
  let client: SqlClient;
  beforeAll(async () => {
    db = await createTestDatabase();
    client = createPgClient({ connectionString: db.url!, stillRunningAfterMs: 100 });
  });
  afterAll(async () => {
    await client?.close();
    await db?.dispose();
  });

  /** A schema with `rows` rows whose indexed expression sleeps 0.1 s per row. */
  async function slowTable(rows: number, duplicate = false): Promise<string> {
    const ns = uniqueName('app');
    await db.client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
    await db.client.query(sql`CREATE FUNCTION ${sql.ident(ns, 'slow')}(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x FROM (SELECT pg_sleep(0.1)) s'`);
    await db.client.query(sql`CREATE TABLE ${sql.ident(ns, 'items')} (id int PRIMARY KEY, code int)`);
    await db.client.query(sql`INSERT INTO ${sql.ident(ns, 'items')} SELECT g, ${duplicate ? sql`1` : sql`g`} FROM generate_series(1, ${rows}::int) AS g`);
    return ns;
  }

  it('reports progress while the build runs and finishes in the same call', async () => {
    // Prepare
    const ns = await slowTable(6);
    const h = harness(client, [slowIndexMigration(ns)]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('done');
    const progress = h.events.filter((e) => e.event === 'index_progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toMatchObject({ index: 'idx_items_slow', revision: 'r1' });
    expect(await indexes(db.client, ns)).toEqual([{ name: 'idx_items_slow', valid: true }]);
  });

  it('fails with the build’s own error when the followed build fails, leaving no INVALID index', async () => {
    // Prepare: a unique index on duplicate codes fails after the build has been handed back.
    const ns = await slowTable(6, true);
    const h = harness(client, [slowIndexMigration(ns, { name: 'idx_items_code', column: 'code', unique: true })]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result).toMatchObject({ status: 'failed', error: { revision: 'r1', step: 0, sqlState: '23505' } });
    expect(h.events.some((e) => e.event === 'index_progress')).toBe(true);
    expect(await indexes(db.client, ns)).toEqual([]);
  });

  it('the CLI shows the build’s phase on a --database-url target', async () => {
    // Prepare: the CLI hands a build back after 1 s; 15 rows × 0.1 s outlast that.
    const ns = await slowTable(15);
    const dir = scratchDir('cli-progress');
    try {
      writeMigration(dir.path, {
        revision: '202601010001',
        downRevision: null,
        body: `up: [createIndex({ name: 'idx_items_slow', schema: '${ns}', table: 'items', columns: ['${ns}.slow(id)'] })],`,
      });

      // Act
      const run = await runCli(['upgrade', 'head', '--database-url', db.url!, '--migrations', dir.path]);

      // Assess: not a TTY, so progress comes as plain lines, one per phase.
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/idx_items_slow: (building index|waiting|validating)/);
    } finally {
      dir.dispose();
    }
  });
});

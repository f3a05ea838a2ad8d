import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { buildIndexHealthReport } from '../../../lambdas/core/health/build-report.ts';
import { lacks } from '../../support/prerequisites.ts';

// Needs two real connections (a blocking transaction and a CIC): PostgreSQL only, skipped on PGlite.
describe.skipIf(lacks('postgresql'))('index build in progress', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.client.query(sql`CREATE TABLE jobs (id int PRIMARY KEY, state text)`);
    await db.client.query(sql`INSERT INTO jobs SELECT g, 'new' FROM generate_series(1, 100) g`);
  });

  afterAll(async () => {
    await db?.dispose();
  });

  it('is not reported invalid while CREATE INDEX CONCURRENTLY waits', async () => {
    // Prepare: an open writing transaction makes the CIC wait after it has created its (invalid) index
    const blocker = new pg.Client({ connectionString: db.url });
    const builder = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await builder.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query("INSERT INTO jobs VALUES (1000, 'held')");
      const build = builder.query('CREATE INDEX CONCURRENTLY idx_jobs_state ON jobs (state)');
      // Wait until the CIC has committed its catalog entry and is waiting on the writer.
      let state: { valid: boolean; waiting: boolean }[] = [];
      for (let i = 0; i < 200 && !state[0]?.waiting; i++) {
        await new Promise((r) => setTimeout(r, 25));
        ({ rows: state } = await db.client.query<{ valid: boolean; waiting: boolean }>(sql`SELECT i.indisvalid AS valid,
            EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) AS waiting
          FROM pg_index i WHERE i.indexrelid = to_regclass('idx_jobs_state')`));
      }
      expect(state).toEqual([{ valid: false, waiting: true }]);

      // Act
      const during = await buildIndexHealthReport({ client: db.client });
      await blocker.query('COMMIT');
      await build;
      const after = await buildIndexHealthReport({ client: db.client });

      // Assess
      expect(during.findings.filter((f) => f.index === 'idx_jobs_state')).toEqual([]);
      expect(after.findings.filter((f) => f.kind === 'invalid')).toEqual([]);
    } finally {
      await blocker.end();
      await builder.end();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { runCli } from '../../support/cli.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { ledgerMismatches, seedHead } from './seed-ledger.ts';
import { until } from '../../support/wait.ts';
import { testDatabaseUrl } from '../../support/database.ts';

const DOWN_TARGET = '202508230001';

const cicWaiting = (index: string) => sql`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
  AND query LIKE ${`CREATE INDEX CONCURRENTLY%${index}%`}`;

// The pattern is built in SQL so this probe's own text (the last query of its pooled connections) never matches.
const progressPolled = sql`SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
  AND query LIKE '%' || 'pg_stat_progress' || '_create_index' || '%'`;

/**
 * The Done-when cycle through the local Data API server with a 1 s statement timeout: `upgrade head`,
 * `downgrade 202508230001`, `upgrade head`, by the CLI's Data API options, checking the ledger against the
 * schema after each step. On PostgreSQL the last upgrade's first build waits on a writer for longer than the
 * statement timeout, so the still-running path (continueAfterTimeout, then catalog polling) runs for real.
 */
describe('seed cycle through the local Data API server (1 s statement timeout)', () => {
  let api: TestDataApi;
  let target: string[];
  beforeAll(async () => {
    // 1 s on PostgreSQL, where it is the point (a build outlives its call); PGlite cannot cancel and runs
    // every call on one thread, so there a short limit only fails slow steps under load (CREATE EXTENSION).
    api = await startTestDataApi({ statementTimeoutMs: testDatabaseUrl ? 1000 : 45_000 });
    target = ['--data-api-endpoint', api.endpoint, '--resource-arn', api.resourceArn, '--secret-arn', api.secretArn, '--database', api.database];
  });
  afterAll(async () => {
    await api?.dispose();
  });

  const current = async () => JSON.parse((await runCli(['current', '--json', ...target])).stdout) as { current: string[]; heads: string[] };

  it(`upgrade head → downgrade ${DOWN_TARGET} → upgrade head, the ledger matching the schema after each`, async () => {
    // Act 1: upgrade head
    const up = await runCli(['upgrade', 'head', ...target]);

    // Assess 1
    expect(up.code, up.stderr + up.stdout).toBe(0);
    expect(await ledgerMismatches(api.db.client)).toEqual([]);
    expect((await current()).current).toEqual([seedHead]);

    // Act 2: downgrade 202508230001
    const down = await runCli(['downgrade', DOWN_TARGET, ...target]);

    // Assess 2
    expect(down.code, down.stderr + down.stdout).toBe(0);
    expect(await ledgerMismatches(api.db.client)).toEqual([]);
    expect((await current()).current).toEqual([DOWN_TARGET]);

    // Act 3: upgrade head again; on PostgreSQL a writer holds users until the runner polls the build
    let writer: pg.Client | undefined;
    if (api.db.kind === 'pg') {
      writer = new pg.Client({ connectionString: api.db.url });
      await writer.connect();
      await writer.query('BEGIN');
      await writer.query(`UPDATE public.users SET updated_at = now()`);
    }
    const again = runCli(['upgrade', 'head', ...target]);
    if (writer) {
      try {
        // Watched from another connection: inside the writer's transaction pg_stat_activity is a frozen snapshot.
        await until('the CIC to wait on the writer', async () => (await api.db.client.query(cicWaiting('idx_users_lower_email'))).rows.length > 0);
        // Held until the runner polls the build's progress: its call outlived the statement timeout.
        await until('the runner to poll the build', async () => (await api.db.client.query(progressPolled)).rows.length > 0, 60_000);
      } finally {
        await writer.query('COMMIT');
        await writer.end();
      }
    }
    const reup = await again;

    // Assess 3
    expect(reup.code, reup.stderr + reup.stdout).toBe(0);
    expect(await ledgerMismatches(api.db.client)).toEqual([]);
    expect((await current()).current).toEqual([seedHead]);
    if (api.db.kind === 'pg') {
      // The build outlived the 1 s call: progress came from polling pg_stat_progress_create_index.
      expect(reup.stdout).toMatch(/idx_users_lower_email: waiting for writers/);
      const { rows } = await api.db.client.query<{ valid: boolean }>(sql`SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'public.idx_users_lower_email'::regclass`);
      expect(rows).toEqual([{ valid: true }]);
    }
  });
});

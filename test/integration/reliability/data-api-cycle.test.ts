import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { runCli } from '../../support/cli.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { ledgerMismatches, seedHead } from './seed-ledger.ts';
import { sleep, until } from '../../support/wait.ts';

const DOWN_TARGET = '202508230001';

const cicWaiting = (index: string) => sql`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
  AND query LIKE ${`CREATE INDEX CONCURRENTLY%${index}%`}`;

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
    api = await startTestDataApi({ statementTimeoutMs: 1000 });
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

    // Act 3: upgrade head again; on PostgreSQL a writer holds users for 2 s into the run
    let writer: pg.Client | undefined;
    if (api.db.kind === 'pg') {
      writer = new pg.Client({ connectionString: api.db.url });
      await writer.connect();
      await writer.query('BEGIN');
      await writer.query(`UPDATE public.users SET updated_at = now()`);
    }
    const again = runCli(['upgrade', 'head', ...target]);
    if (writer) {
      // Watched from another connection: inside the writer's transaction pg_stat_activity is a frozen snapshot.
      await until('the CIC to wait on the writer', async () => (await api.db.client.query(cicWaiting('idx_users_lower_email'))).rows.length > 0);
      await sleep(2000);
      await writer.query('COMMIT');
      await writer.end();
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
  }, 240_000);
});

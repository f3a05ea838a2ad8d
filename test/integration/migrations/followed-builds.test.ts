import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgClient } from '../../../lambdas/core/db/pg.ts';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { runCli, scratchDir, writeMigration } from '../../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { harness, indexes, slowIndexMigration, slowItems } from './helpers.ts';
import { lacks } from '../../support/prerequisites.ts';

/**
 * Index builds the runner follows from a second connection after the call that started them returned
 * `still_running`: a pg client made with `stillRunningAfterMs` (the CLI's progress bar), and the Data API
 * past its statement timeout. PostgreSQL only: PGlite is one connection on the JS thread.
 */
describe.skipIf(lacks('postgresql'))('index builds followed from a second connection on pg (PostgreSQL)', () => {
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

  it('reports progress while the build runs and finishes in the same call', async () => {
    // Prepare
    const ns = await slowItems(db.client, { rows: 6, seconds: 0.1 });
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
    const ns = await slowItems(db.client, { rows: 6, seconds: 0.1, duplicate: true });
    const h = harness(client, [slowIndexMigration(ns, { name: 'idx_items_code', column: 'code', unique: true })]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result).toMatchObject({ status: 'failed', error: { revision: 'r1', step: 0, sqlState: '23505' } });
    expect(h.events.some((e) => e.event === 'index_progress')).toBe(true);
    expect(await indexes(db.client, ns)).toEqual([]);
  });

  it('an advance call resumes the build an earlier call left running, without starting a second one', async () => {
    // Prepare: the first call's deadline passes while its build runs (8 rows × 0.3 s, evaluated twice:
    // long enough for the build's last wait to start after a second build's deadlock check has run).
    const ns = await slowItems(db.client, { rows: 8, seconds: 0.3 });
    let clock = Date.now();
    const h = harness(client, [slowIndexMigration(ns)], {
      now: () => new Date(clock),
      onEvent: (e) => {
        if (e.event === 'index_progress') clock += 60_000; // the first poll finds the deadline passed
      },
    });
    const { runId } = await h.migrator.start('up', 'head');

    // Act: the second call starts while the first call's build still runs on the server.
    const first = await h.migrator.advance(runId, { deadline: new Date(clock + 30_000) });
    const second = await h.migrator.advance(runId);

    // Assess: a second CREATE INDEX CONCURRENTLY queued on the table would have deadlocked with the running
    // build's wait for older snapshots, and PostgreSQL cancels one of them (often the build, left INVALID).
    expect(first.status).toBe('in_progress');
    expect(second.status, second.error?.message).toBe('done');
    expect(h.events.filter((e) => e.event === 'invalid_index_dropped' || e.event === 'index_build_retry' || e.event === 'lock_timeout_retry')).toEqual([]);
    expect(await indexes(db.client, ns)).toEqual([{ name: 'idx_items_slow', valid: true }]);
  });

  it('the CLI shows the build’s phase on a --database-url target', async () => {
    // Prepare: the CLI hands a build back after 1 s; 15 rows × 0.1 s outlast that.
    const ns = await slowItems(db.client, { rows: 15, seconds: 0.1 });
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

describe.skipIf(lacks('postgresql'))('index builds followed past the Data API statement timeout (PostgreSQL)', () => {
  let api: TestDataApi;
  beforeAll(async () => {
    api = await startTestDataApi({ statementTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await api?.dispose();
  });

  it('counts a build that fails after its call returned as an attempt, and leaves no INVALID index', async () => {
    // Prepare: a unique index on duplicate codes that fails after 1.5 s, past the 1 s call; one attempt allowed.
    const ns = await slowItems(api.db.client, { rows: 15, seconds: 0.1, duplicate: true });
    const adapter = api.adapter();
    let builds = 0;
    const counted: SqlClient = {
      ...adapter,
      executeLong: (query) => {
        if (query.toString().startsWith('CREATE UNIQUE INDEX')) builds++;
        return adapter.executeLong(query);
      },
    };
    const h = harness(counted, [slowIndexMigration(ns, { name: 'idx_items_code', column: 'code', unique: true })], { indexBuildAttempts: 1 });

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess: the Data API cannot say how the build ended; the catalog shows it INVALID, which is the one attempt.
    // The duplicate lookup over slow(code) outlasts the 1 s call too, so the message says where the ERROR line is
    // and gives the lookup to run by hand.
    expect(result.status).toBe('failed');
    expect(result.error?.message).toContain('could not be built after 1 attempt:');
    expect(result.error?.message).toContain("PostgreSQL's log (on Aurora: the cluster's exported `postgresql` log group");
    expect(result.error?.message).toMatch(/duplicate keys, if any, show with: SELECT .* GROUP BY .* HAVING count\(\*\) > 1 LIMIT 1/);
    expect(builds).toBe(1);
    expect(h.events.some((e) => e.event === 'index_progress')).toBe(true);
    expect(await indexes(api.db.client, ns)).toEqual([]);
  });
});

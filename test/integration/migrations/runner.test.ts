import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { createIndex, defineMigration, dropIndex, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { countingClient } from '../../support/counting-client.ts';
import { runnerTransports, type RunnerTransport } from '../../support/runner-transports.ts';
import { appliedRevisions, chain, columns, duplicateCodes, harness, indexes, slowIndexMigration, slowItems, uniqueCodesMigration, uniqueName } from './helpers.ts';

/** Two migrations after 202501010002: drop `index` on widgets (concurrently), then run `statement` (strong lock). */
function dropThenSql(ns: string, index: string, statement: string) {
  const down = { irreversible: 'a verification test: never rolled back' };
  return [
    defineMigration({ revision: '202501010003', downRevision: '202501010002', description: `drop ${index}`, risk: 'low', down, up: [dropIndex({ name: index, schema: ns, table: 'widgets' })] }),
    defineMigration({ revision: '202501010004', downRevision: '202501010003', description: 'an index by hand', risk: 'low', down, up: [sqlStep(statement, { tables: [`${ns}.widgets`] })] }),
  ] as const;
}

/** The runner end to end, on both of its paths (see `runnerTransports`). */
describe.each(runnerTransports)('runner %s', (_name, open) => {
  let t: RunnerTransport;
  beforeAll(async () => {
    t = await open();
  });
  const test = it;
  afterAll(async () => {
    await t?.dispose();
  });

  test('upgrades to head, downgrades to a revision, and upgrades again', async () => {
    // Prepare
    const ns = uniqueName('app');
    const { all } = chain(ns);
    const h = harness(t.runner, all);

    // Act
    const up = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(up.status).toBe('done');
    expect(up.applied).toEqual(['202501010001', '202501010002', '202501010003']);
    expect(up.verification?.ok).toBe(true);
    expect(up.verification?.analyzed).toEqual([`${ns}.widgets`]);
    expect(await indexes(t.db.client, ns)).toEqual([
      { name: 'idx_widgets_name', valid: true },
      { name: 'idx_widgets_owner', valid: true },
    ]);
    expect(await columns(t.db.client, ns, 'widgets')).toContain('color');
    const touched = await t.db.client.query<{ revision: string; schema_name: string; table_name: string }>(
      sql`SELECT revision, schema_name, table_name FROM ${sql.ident(h.ledger, 'migration_tables')} ORDER BY revision`,
    );
    expect(touched.rows).toEqual([
      { revision: '202501010001', schema_name: ns, table_name: 'widgets' },
      { revision: '202501010002', schema_name: ns, table_name: 'widgets' },
      { revision: '202501010003', schema_name: ns, table_name: 'widgets' },
    ]);
    expect(await h.migrator.current()).toEqual(['202501010003']);

    const down = await h.migrator.runToCompletion('down', '202501010001');
    expect(down.status).toBe('done');
    expect(down.applied).toEqual(['202501010003', '202501010002']);
    expect(await indexes(t.db.client, ns)).toEqual([]);
    expect(await columns(t.db.client, ns, 'widgets')).not.toContain('color');
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual(['202501010001']);

    const again = await h.migrator.runToCompletion('up', 'head');
    expect(again.status).toBe('done');
    expect(again.applied).toEqual(['202501010002', '202501010003']);
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual(['202501010001', '202501010002', '202501010003']);
  });

  test('leaves neither schema change nor ledger row when a transactional step fails', async () => {
    // Prepare
    const ns = uniqueName('app');
    const { m1 } = chain(ns);
    const broken = defineMigration({
      revision: '202501010002',
      downRevision: '202501010001',
      description: 'add a column, then fail',
      risk: 'low',
      up: [sqlStep(`ALTER TABLE ${ns}.widgets ADD COLUMN size int`), sqlStep(`ALTER TABLE ${ns}.widgets ADD COLUMN nope no_such_type`)],
      down: [sqlStep(`ALTER TABLE ${ns}.widgets DROP COLUMN size`)],
    });
    const h = harness(t.runner, [m1, broken]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('failed');
    expect(result.applied).toEqual(['202501010001']);
    expect(result.error).toMatchObject({ revision: '202501010002', step: 1, sqlState: '42704' });
    expect(result.error?.message).toContain('migrations/202501010002_t.ts');
    expect(await columns(t.db.client, ns, 'widgets')).not.toContain('size');
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual(['202501010001']);
    const failed = await t.db.client.query<{ step: number; error: string }>(
      sql`SELECT step, error FROM ${sql.ident(h.ledger, 'migration_events')} WHERE status = 'failed'`,
    );
    expect(failed.rows).toEqual([{ step: 1, error: expect.stringContaining('no_such_type') }]);
  });

  test('a single-step migration is one atomic statement with its bookkeeping: a failure leaves nothing', async () => {
    // Prepare: the step fails while it runs (division by zero), after its table would have been made.
    const ns = uniqueName('app');
    const { m1 } = chain(ns);
    const broken = defineMigration({
      revision: '202501010002',
      downRevision: '202501010001',
      description: 'a table from a query that fails',
      risk: 'low',
      up: [sqlStep(`CREATE TABLE ${ns}.ratios AS SELECT 1 / (count(*) - count(*)) AS r FROM ${ns}.widgets`, { tables: [`${ns}.ratios`] })],
      down: [sqlStep(`DROP TABLE ${ns}.ratios`)],
    });
    const h = harness(t.runner, [m1, broken]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result).toMatchObject({ status: 'failed', applied: ['202501010001'], error: { revision: '202501010002', step: 0, sqlState: '22012' } });
    const made = await t.db.client.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = ${ns} AND tablename = 'ratios'`);
    expect(made.rows[0]!.n).toBe(0);
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual(['202501010001']);
    const done = await t.db.client.query<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM ${sql.ident(h.ledger, 'migration_events')} WHERE revision = '202501010002' AND status = 'done'`,
    );
    expect(done.rows[0]!.n).toBe(0);
  });

  test('round trips: a transactional migration costs its statements + BEGIN/COMMIT, a one-step one its statement, an index build its statement + 2', async () => {
    // Prepare: counted from each migration's start to its end, so the run's fixed round trips stay out.
    const ns = uniqueName('app');
    const t1 = `${ns}.parts`;
    const migrations = [
      defineMigration({
        revision: 'r1',
        downRevision: null,
        description: 'schema',
        risk: 'low',
        up: [sqlStep(`CREATE SCHEMA ${ns}`, { lock: 'none' })],
        down: [sqlStep(`DROP SCHEMA ${ns}`, { lock: 'none' })],
      }),
      defineMigration({
        revision: 'r2',
        downRevision: 'r1',
        description: 'two statements',
        risk: 'low',
        up: [sqlStep(`CREATE TABLE ${t1} (id int PRIMARY KEY, sku text)`, { tables: [t1] }), sqlStep(`CREATE INDEX idx_parts_sku_plain ON ${t1} (sku)`, { tables: [t1] })],
        down: [sqlStep(`DROP TABLE ${t1}`)],
      }),
      defineMigration({
        revision: 'r3',
        downRevision: 'r2',
        description: 'one statement',
        risk: 'low',
        up: [sqlStep(`ALTER TABLE ${t1} ADD COLUMN price int`, { tables: [t1] })],
        down: [sqlStep(`ALTER TABLE ${t1} DROP COLUMN price`, { tables: [t1] })],
      }),
      defineMigration({
        revision: 'r4',
        downRevision: 'r3',
        description: 'a concurrent build',
        risk: 'low',
        up: [createIndex({ name: 'idx_parts_price', schema: ns, table: 'parts', columns: ['price'] })],
      }),
    ];
    const counted = countingClient(t.runner);
    const trips: Record<string, number> = {};
    let mark = 0;
    const h = harness(counted, migrations, {
      onEvent: (e) => {
        if (e.event === 'migration_started') mark = counted.count;
        if (e.event === 'migration_done') trips[e.revision] = counted.count - mark;
      },
    });

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess: r2 = BEGIN + 2 statements (the bookkeeping rides on the first) + COMMIT; r1 and r3 = 1;
    // r4 = the attempt's "started" write (so a build that outlives its call is known as this run's attempt)
    // + the build + the "done" write gated on the index being valid. A build that outlives the Data API's
    // 1 s call (only under heavy load, on an empty table) is followed by polling the catalog: those polls
    // are the still-running path's own round trips, and are counted on top.
    const polls = h.events.filter((e) => e.event === 'index_progress').length;
    expect(result.status).toBe('done');
    expect({ ...trips, r4: polls ? Math.min(trips['r4']!, 3) : trips['r4'] }).toEqual({ r1: 1, r2: 4, r3: 1, r4: 3 });
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(await indexes(t.db.client, ns)).toEqual([
      { name: 'idx_parts_price', valid: true },
      { name: 'idx_parts_sku_plain', valid: true },
    ]);
  });

  test('gives a ledger made before execute_step existed the function, and carries on', async () => {
    // Prepare: a first run makes the ledger; then the function is dropped, as in a ledger of an older offpeak.
    const ns = uniqueName('app');
    const { m1, m2, m3 } = chain(ns);
    const first = harness(t.runner, [m1]);
    expect((await first.migrator.runToCompletion('up', 'head')).status).toBe('done');
    await t.db.client.query(sql`DROP FUNCTION ${sql.ident(first.ledger, 'execute_step')}(text, text)`);

    // Act: a new process (fresh migrator) upgrades the rest.
    const later = harness(t.runner, [m1, m2, m3], { schema: first.ledger });
    const result = await later.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result).toMatchObject({ status: 'done', applied: ['202501010002', '202501010003'] });
    expect(await appliedRevisions(t.db.client, first.ledger)).toEqual(['202501010001', '202501010002', '202501010003']);
  });

  test('stops at the deadline between units and resumes from the journal', async () => {
    // Prepare: a clock that jumps past the deadline whenever a migration finishes.
    const ns = uniqueName('app');
    let clock = Date.parse('2025-01-01T00:00:00Z');
    const h = harness(t.runner, chain(ns).all, {
      now: () => new Date(clock),
      onEvent: (e) => {
        if (e.event === 'migration_done') clock += 60_000;
      },
    });
    const { runId } = await h.migrator.start('up', 'head');

    // Act
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await h.migrator.advance(runId, { deadline: new Date(clock + 30_000) }));

    // Assess
    expect(results.map((r) => r.status)).toEqual(['in_progress', 'in_progress', 'done']);
    expect(results.map((r) => r.applied)).toEqual([['202501010001'], ['202501010002'], ['202501010003']]);
    expect(results[0]!.next).toMatchObject({ revision: '202501010002', step: 0 });
    expect(results.map((r) => r.runId)).toEqual([runId, runId, runId]);
    const done = await t.db.client.query<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM ${sql.ident(h.ledger, 'migration_events')} WHERE status = 'done'`,
    );
    expect(done.rows[0]!.n).toBe(5); // 2 + 2 + 1 steps, none run twice
  });

  test('resumes a standalone migration interrupted after its step ran but before it was journaled', async () => {
    // Prepare: run up to 202501010001, then build the first index by hand as if the process died right after.
    const ns = uniqueName('app');
    const h = harness(t.runner, chain(ns).all);
    await h.migrator.runToCompletion('up', '202501010001');
    await t.db.client.query(sql`CREATE INDEX idx_widgets_name ON ${sql.ident(ns, 'widgets')} (name)`);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('done');
    expect(h.events.filter((e) => e.event === 'invalid_index_dropped')).toEqual([]);
    expect(await indexes(t.db.client, ns)).toEqual([
      { name: 'idx_widgets_name', valid: true },
      { name: 'idx_widgets_owner', valid: true },
    ]);
  });

  test('drops and rebuilds an INVALID leftover instead of skipping it', async () => {
    // Prepare: a failed concurrent unique build on duplicate data leaves an INVALID index; then fix the data.
    const ns = await duplicateCodes(t.db.client);
    await expect(t.db.client.query(sql`CREATE UNIQUE INDEX CONCURRENTLY idx_codes_code ON ${sql.ident(ns, 'codes')} (code)`)).rejects.toThrow();
    expect(await indexes(t.db.client, ns)).toEqual([{ name: 'idx_codes_code', valid: false }]);
    await t.db.client.query(sql`UPDATE ${sql.ident(ns, 'codes')} SET code = 'b' WHERE id = 2`);
    const h = harness(t.runner, [uniqueCodesMigration(ns)]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('done');
    expect(h.events.filter((e) => e.event === 'invalid_index_dropped')).toHaveLength(1);
    expect(await indexes(t.db.client, ns)).toEqual([{ name: 'idx_codes_code', valid: true }]);
    expect(result.verification?.indexes).toEqual([{ schema: ns, name: 'idx_codes_code', expected: 'valid', exists: true, valid: true }]);
  });

  test('fails a build that cannot succeed without leaving an INVALID index, then resumes once the data is fixed', async () => {
    // Prepare
    const ns = await duplicateCodes(t.db.client);
    const h = harness(t.runner, [uniqueCodesMigration(ns)]);

    // Act
    const failed = await h.migrator.runToCompletion('up', 'head');
    const leftovers = await indexes(t.db.client, ns);
    await t.db.client.query(sql`UPDATE ${sql.ident(ns, 'codes')} SET code = 'b' WHERE id = 2`);
    const retried = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(failed).toMatchObject({ status: 'failed', error: { revision: 'r1', step: 0, sqlState: '23505' } });
    expect(leftovers).toEqual([]);
    expect(retried).toMatchObject({ status: 'done', runId: failed.runId, applied: ['r1'] });
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual(['r1']);
  });

  test('checks at the end that the indexes the run dropped are gone, beside those it built', async () => {
    // Prepare: build two indexes, then a migration that drops one of them, all in one run.
    const ns = uniqueName('app');
    const { m1, m2 } = chain(ns);
    const drop = defineMigration({
      revision: '202501010003',
      downRevision: '202501010002',
      description: 'drop the owner index',
      risk: 'low',
      down: { irreversible: 'a verification test: never rolled back' },
      up: [dropIndex({ name: 'idx_widgets_owner', schema: ns, table: 'widgets' })],
    });
    const h = harness(t.runner, [m1, m2, drop]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('done');
    expect(result.verification?.indexes).toEqual([
      { schema: ns, name: 'idx_widgets_name', expected: 'valid', exists: true, valid: true },
      { schema: ns, name: 'idx_widgets_owner', expected: 'absent', exists: false, valid: false },
    ]);
    expect(result.verification?.ok).toBe(true);
  });

  test('fails the run when an index it dropped exists again at the end', async () => {
    // Prepare: the drop step succeeds, then a later step recreates the index under the same name
    // without naming it (PostgreSQL names an unnamed index <table>_<column>_idx), which only the
    // end-of-run check can see.
    const ns = uniqueName('app');
    const { m1 } = chain(ns);
    const build = defineMigration({
      revision: '202501010002',
      downRevision: '202501010001',
      description: 'index widgets by name',
      risk: 'low',
      up: [createIndex({ name: 'widgets_name_idx', schema: ns, table: 'widgets', columns: ['name'] })],
    });
    const [drop, unnamed] = dropThenSql(ns, 'widgets_name_idx', `CREATE INDEX ON ${ns}.widgets (name)`);
    const h = harness(t.runner, [m1, build, drop, unnamed]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('failed');
    expect(result.verification?.indexes).toEqual([{ schema: ns, name: 'widgets_name_idx', expected: 'absent', exists: true, valid: true }]);
    expect(result.error?.message).toBe(`verification failed: ${ns}.widgets_name_idx was dropped by the run but exists`);
  });

  test('does not check a dropped index that a later SQL step of the run names (it may rebuild it)', async () => {
    // Prepare
    const ns = uniqueName('app');
    const { m1, m2 } = chain(ns);
    const [drop, rebuild] = dropThenSql(ns, 'idx_widgets_owner', `CREATE INDEX idx_widgets_owner ON ${ns}.widgets (owner_id, id)`);
    const h = harness(t.runner, [m1, m2, drop, rebuild]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('done');
    expect(result.verification?.indexes.map((i) => `${i.name}:${i.expected}`)).toEqual(['idx_widgets_name:valid']);
  });

  test('journals unmet conditional steps as skipped and reports them', async () => {
    // Prepare
    const ns = uniqueName('app');
    const { m1 } = chain(ns);
    const conditional = defineMigration({
      revision: '202501010002',
      downRevision: '202501010001',
      description: 'an index only where the extension exists',
      risk: 'low',
      up: [
        createIndex({ name: 'idx_widgets_name', schema: ns, table: 'widgets', columns: ['name'] }),
        createIndex({ name: 'idx_widgets_fancy', schema: ns, table: 'widgets', columns: ['owner_id'] }, { when: { extensionAvailable: 'no_such_extension' } }),
      ],
    });
    const h = harness(t.runner, [m1, conditional]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('done');
    expect(result.skipped).toEqual([{ revision: '202501010002', direction: 'up', step: 1, reason: 'extension no_such_extension is not available' }]);
    expect(result.verification?.indexes.map((i) => i.name)).toEqual(['idx_widgets_name']);
    expect(await indexes(t.db.client, ns)).toEqual([{ name: 'idx_widgets_name', valid: true }]);
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual(['202501010001', '202501010002']);
  });

  test('follows an index build that outlives one call by polling the catalog, and resumes it after a deadline', async () => {
    // Prepare: an expression index whose build takes about 1.2 s (longer than the Data API's 1 s here).
    const ns = await slowItems(t.db.client, { rows: 4, seconds: 0.3 });
    let clock = Date.now();
    const h = harness(
      t.runner,
      [slowIndexMigration(ns)],
      {
        now: () => new Date(clock),
        onEvent: (e) => {
          if (e.event === 'step_started') clock += 10; // the deadline passes while the build runs
        },
      },
    );
    const { runId } = await h.migrator.start('up', 'head');

    // Act: the first call has a deadline that passes as soon as polling starts.
    const first = await h.migrator.advance(runId, { deadline: new Date(clock + 1) });
    const second = await h.migrator.advance(runId);

    // Assess
    expect(second.status).toBe('done');
    expect(await indexes(t.db.client, ns)).toEqual([{ name: 'idx_items_slow', valid: true }]);
    if (t.kind === 'data-api/pg') {
      expect(first.status).toBe('in_progress');
      expect(first.next).toMatchObject({ revision: 'r1', step: 0 });
      expect(h.events.some((e) => e.event === 'index_progress')).toBe(true);
    } else {
      // pg and PGlite wait for the statement in one call: there is no still-running path to stop in.
      // Through the server on PGlite neither: PGlite runs on the JS thread, so the build has finished
      // by the time the timeout reply arrives and the catalog poll finds the index valid.
      expect(first.status).toBe('done');
    }
    expect(h.events.filter((e) => e.event === 'invalid_index_dropped' || e.event === 'index_build_retry')).toEqual([]);
    // Its pre-flight calibration sample, timed from the attempt's started event: at least the 4 × 0.3 s the
    // expression sleeps. A build that ended between two calls unobserved leaves none (its end time is unknown):
    // through the Data API on pg the second call may find it running (a sample) or already valid (none).
    const { rows: samples } = await t.db.client.query<{ seconds: number; source: string; bytes: number }>(
      sql`SELECT seconds, source, bytes FROM ${sql.ident(h.ledger, 'index_build_samples')}`,
    );
    if (t.kind !== 'data-api/pg') expect(samples).toHaveLength(1);
    expect(samples.length).toBeLessThanOrEqual(1);
    for (const sample of samples) {
      expect(sample.source).toBe('run');
      expect(sample.seconds).toBeGreaterThanOrEqual(1.2);
      expect(sample.bytes).toBeGreaterThan(0);
    }
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { createIndex, defineMigration, dropIndex, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { type TestDatabase } from '../../support/database.ts';
import { runnerTransports, type RunnerTransport } from '../../support/runner-transports.ts';
import { harness, indexes, uniqueName } from '../migrations/helpers.ts';
import { sleep, until } from '../../support/wait.ts';
import { lacks } from '../../support/prerequisites.ts';

// A long transaction on another connection needs a server: PGlite has one connection.
describe.skipIf(lacks('postgresql')).each(runnerTransports)('lock contention while a long transaction holds the table (PostgreSQL), runner %s', (_name, open) => {
  let transport: RunnerTransport;
  let db: TestDatabase;
  let holder: pg.Client;
  let reader: pg.Client;
  beforeAll(async () => {
    transport = await open();
    db = transport.db;
    holder = new pg.Client({ connectionString: db.url });
    reader = new pg.Client({ connectionString: db.url });
    await Promise.all([holder.connect(), reader.connect()]);
  });
  afterEach(async () => {
    await holder.query('ROLLBACK').catch(() => {});
  });
  afterAll(async () => {
    await Promise.all([holder?.end(), reader?.end()]);
    await transport?.dispose();
  });

  async function table(): Promise<string> {
    const ns = uniqueName('lc');
    await db.client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
    await db.client.query(sql`CREATE TABLE ${sql.ident(ns, 'items')} (id bigint PRIMARY KEY, v integer NOT NULL)`);
    await db.client.query(sql`INSERT INTO ${sql.ident(ns, 'items')} SELECT g, g FROM generate_series(1, 1000) g`);
    return ns;
  }

  it('strong-lock DDL times out and retries, and SELECTs on the table keep answering meanwhile', async () => {
    // Prepare: a reader's open transaction holds ACCESS SHARE on the table
    const ns = await table();
    const migration = defineMigration({
      revision: '202601010001',
      downRevision: null,
      description: 'add a column',
      risk: 'low',
      up: [sqlStep(`ALTER TABLE ${ns}.items ADD COLUMN note text`, { tables: [`${ns}.items`] })],
      down: [sqlStep(`ALTER TABLE ${ns}.items DROP COLUMN note`, { tables: [`${ns}.items`] })],
    });
    const { migrator, events } = harness(transport.runner, [migration], { lockTimeoutMs: 200, lockAttempts: 12, retryBaseMs: 100 });
    await holder.query('BEGIN');
    await holder.query(`SELECT count(*) FROM ${ns}.items`);

    // Act: the migration runs while the transaction stays open; SELECTs go on from another connection
    const run = migrator.runToCompletion('up', 'head');
    await until('a lock-timeout retry', async () => events.some((e) => e.event === 'lock_timeout_retry'));
    const latencies: number[] = [];
    const stopAt = Date.now() + 1500;
    while (Date.now() < stopAt) {
      const t0 = performance.now();
      const { rows } = await reader.query<{ n: string }>(`SELECT count(*) AS n FROM ${ns}.items`);
      latencies.push(performance.now() - t0);
      expect(rows[0]?.n).toBe('1000');
      await sleep(50);
    }
    const retriesWhileHeld = events.filter((e) => e.event === 'lock_timeout_retry').length;
    await holder.query('COMMIT');
    const result = await run;

    // Assess: it retried while the lock was held, then applied; no SELECT waited much longer than one lock_timeout
    expect(result.status, result.error?.message).toBe('done');
    expect(retriesWhileHeld).toBeGreaterThanOrEqual(2);
    const { rows } = await db.client.query<{ c: string }>(
      sql`SELECT column_name AS c FROM information_schema.columns WHERE table_schema = ${ns} AND table_name = 'items' AND column_name = 'note'`,
    );
    expect(rows).toHaveLength(1);
    latencies.sort((a, b) => a - b);
    console.info(`SELECT latency while the DDL retried (${latencies.length} queries): median ${latencies[latencies.length >> 1]!.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms; ${retriesWhileHeld} retries`);
    // A queued ACCESS EXCLUSIVE request blocks later readers for at most its lock_timeout (200 ms) + load noise; the holder held for 1.5 s+.
    expect(latencies.at(-1)!).toBeLessThan(1000);
  });

  it('CREATE INDEX CONCURRENTLY waits for the writer and completes once its transaction ends', async () => {
    // Prepare: a writer's open transaction holds ROW EXCLUSIVE on the table
    const ns = await table();
    const migration = defineMigration({
      revision: '202601010002',
      downRevision: null,
      description: 'index items by v',
      risk: 'low',
      up: [createIndex({ name: 'idx_items_v', schema: ns, table: 'items', columns: ['v'] })],
    });
    const { migrator } = harness(transport.runner, [migration], { lockTimeoutMs: 200 });
    await holder.query('BEGIN');
    await holder.query(`UPDATE ${ns}.items SET v = v + 1 WHERE id = 1`);

    // Act: start the build, watch it wait on the writer, then end the writer's transaction
    let finished = false;
    const run = migrator.runToCompletion('up', 'head').finally(() => (finished = true));
    await until('the CIC to wait on a lock', async () => {
      const { rows } = await reader.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE INDEX CONCURRENTLY%idx_items_v%'`);
      return rows.length > 0;
    });
    await sleep(1200);
    const waitedPastLockTimeout = !finished;
    const whileWaiting = await indexes(db.client, ns);
    await holder.query('COMMIT');
    const result = await run;

    // Assess: it waited longer than the strong-lock timeout without failing, then built a valid index
    expect(waitedPastLockTimeout).toBe(true);
    expect(whileWaiting).toEqual([{ name: 'idx_items_v', valid: false }]);
    expect(result.status, result.error?.message).toBe('done');
    expect(await indexes(db.client, ns)).toEqual([{ name: 'idx_items_v', valid: true }]);
  });

  it('DROP INDEX CONCURRENTLY that fails while it waits is not journaled done, and a rerun drops the index', async () => {
    // Prepare: the index exists; a writer's open transaction makes the drop wait (past the Data API call's 1 s)
    const ns = await table();
    await db.client.query(sql`CREATE INDEX idx_items_v ON ${sql.ident(ns, 'items')} (v)`);
    const migration = defineMigration({
      revision: '202601010003',
      downRevision: null,
      description: 'drop the v index',
      risk: 'low',
      up: [dropIndex({ name: 'idx_items_v', schema: ns, table: 'items' })],
      down: [createIndex({ name: 'idx_items_v', schema: ns, table: 'items', columns: ['v'] })],
    });
    const { migrator, ledger } = harness(transport.runner, [migration]);
    await holder.query('BEGIN');
    await holder.query(`UPDATE ${ns}.items SET v = v + 1 WHERE id = 1`);

    // Act: once the drop has waited past one call, cancel it (through the Data API its caller cannot see that)
    const run = migrator.runToCompletion('up', 'head');
    await until('the drop to wait on a lock', async () => {
      const { rows } = await reader.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DROP INDEX CONCURRENTLY%idx_items_v%'`);
      return rows.length > 0;
    });
    await sleep(1200);
    await reader.query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'DROP INDEX CONCURRENTLY%idx_items_v%' AND pid <> pg_backend_pid()`);
    const failed = await run;
    const doneEvents = async () =>
      (await db.client.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM ${sql.ident(ledger, 'migration_events')} WHERE status = 'done'`)).rows[0]!.n;
    const doneAfterFailure = await doneEvents();
    await holder.query('COMMIT');
    const rerun = await migrator.runToCompletion('up', 'head');

    // Assess: the failed drop left no "done" and no applied row; the rerun dropped the index and journaled it once
    expect(failed).toMatchObject({ status: 'failed', applied: [], error: { revision: '202601010003', step: 0 } });
    expect(doneAfterFailure).toBe(0);
    expect(rerun).toMatchObject({ status: 'done', applied: ['202601010003'] });
    expect(await doneEvents()).toBe(1);
    expect(await indexes(db.client, ns)).toEqual([]);
  });
});

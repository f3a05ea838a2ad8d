import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { createIndex, defineMigration, sqlStep, type Migration } from '../../../lambdas/core/migrations/model.ts';
import type { MigrationEvent } from '../../../lambdas/core/migrations/events.ts';
import { type TestDatabase } from '../../support/database.ts';
import { runnerTransports, type RunnerTransport } from '../../support/runner-transports.ts';
import { lacks } from '../../support/prerequisites.ts';
import { until } from '../../support/wait.ts';
import { columns, harness, indexes, uniqueName } from './helpers.ts';

/** Sessions of the load generators: one query text, so they can be found and cancelled. */
const BUSY = 'SELECT pg_sleep(600) /* load-guard test */';

/** Load generators not yet stopped (a failed test's are stopped after it). */
const loads = new Set<{ stop(): Promise<void> }>();
afterEach(async () => {
  for (const load of loads) await load.stop();
});

/** `n` sessions running pg_sleep in state active, until `stop()` cancels them and they go idle. */
async function busy(db: TestDatabase, observer: pg.Client, n: number): Promise<{ stop(): Promise<void> }> {
  const clients = Array.from({ length: n }, () => new pg.Client({ connectionString: db.url }));
  await Promise.all(clients.map((c) => c.connect()));
  const running = clients.map((c) => c.query(BUSY).catch(() => undefined));
  const activeBusy = async () =>
    Number((await observer.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query = $1`, [BUSY])).rows[0]!.n);
  const load = {
    async stop() {
      if (!loads.delete(load)) return;
      await observer.query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = $1`, [BUSY]);
      await Promise.all(running);
      await until('the busy sessions to go idle', async () => (await activeBusy()) === 0);
      await Promise.all(clients.map((c) => c.end()));
    },
  };
  loads.add(load);
  await until(`${n} busy sessions`, async () => (await activeBusy()) === n);
  return load;
}

function table(ns: string, rows = 100): Migration {
  return defineMigration({
    revision: '202601010001',
    downRevision: null,
    description: 'items',
    risk: 'low',
    up: [
      sqlStep(`CREATE SCHEMA IF NOT EXISTS ${ns}`, { lock: 'none' }),
      sqlStep(`CREATE TABLE ${ns}.items (id bigint PRIMARY KEY, v integer NOT NULL)`, { tables: [`${ns}.items`] }),
      sqlStep(`INSERT INTO ${ns}.items SELECT g, g FROM generate_series(1, ${rows}) g`, { tables: [`${ns}.items`] }),
    ],
    down: [sqlStep(`DROP TABLE ${ns}.items`), sqlStep(`DROP SCHEMA ${ns}`, { lock: 'none' })],
  });
}

function addColumn(ns: string, revision = '202601010002', downRevision = '202601010001'): Migration {
  return defineMigration({
    revision,
    downRevision,
    description: 'add a note',
    risk: 'low',
    up: [sqlStep(`ALTER TABLE ${ns}.items ADD COLUMN note text`, { tables: [`${ns}.items`] })],
    down: [sqlStep(`ALTER TABLE ${ns}.items DROP COLUMN note`, { tables: [`${ns}.items`] })],
  });
}

const ofKind = <K extends MigrationEvent['event']>(events: MigrationEvent[], kind: K) => events.filter((e): e is Extract<MigrationEvent, { event: K }> => e.event === kind);

describe.each(runnerTransports)('load guard, runner %s', (_name, open) => {
  let transport: RunnerTransport;
  let db: TestDatabase;
  let observer: pg.Client | undefined;
  beforeAll(async () => {
    transport = await open();
    db = transport.db;
    if (db.kind === 'pg') {
      observer = new pg.Client({ connectionString: db.url });
      await observer.connect();
    }
  });
  afterAll(async () => {
    await observer?.end();
    await transport?.dispose();
  });

  it('with limits set, a run on a quiet database is never throttled and reports no throttled time', async () => {
    // Prepare
    const ns = uniqueName('lg');
    const { migrator, events } = harness(transport.runner, [table(ns), addColumn(ns)], { loadGuard: { maxLoad: { active: 5 }, criticalLoad: { active: 50 } } });

    // Act
    const result = await migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status, result.error?.message).toBe('done');
    expect(result.throttledMs).toBe(0);
    expect(ofKind(events, 'throttled')).toEqual([]);
    expect(await columns(db.client, ns, 'items')).toEqual(['id', 'v', 'note']);
  });

  it.skipIf(lacks('postgresql'))('over max-load before a unit it pauses, polling on the injected clock, and goes on once below (PostgreSQL)', async () => {
    // Prepare: 3 busy sessions, max-load active=1; the second throttled poll's sleep ends the load
    const ns = uniqueName('lg');
    const POLL = 4321;
    let clock = Date.parse('2026-03-01T02:00:00Z');
    let polls = 0;
    const load = await busy(db, observer!, 3);
    const sleep = async (ms: number) => {
      if (ms !== POLL) return new Promise<void>((r) => setTimeout(r, Math.min(ms, 20)));
      clock += ms;
      if (++polls === 2) await load.stop();
    };
    const { migrator, events } = harness(transport.runner, [table(ns)], { now: () => new Date(clock), sleep, loadGuard: { maxLoad: { active: 1 }, pollIntervalMs: POLL } });

    // Act
    const result = await migrator.runToCompletion('up', 'head');

    // Assess: two throttled polls, then it ran; the pause is on the injected clock
    expect(result.status, result.error?.message).toBe('done');
    const throttled = ofKind(events, 'throttled');
    expect(throttled.map((e) => e.reason)).toEqual(['active=3 > 1', 'active=3 > 1']);
    expect(throttled[0]).toMatchObject({ active: 3, during: 'before_unit' });
    expect(ofKind(events, 'throttle_released')).toEqual([expect.objectContaining({ throttledMs: 2 * POLL })]);
    expect(result.throttledMs).toBe(2 * POLL);
    expect(await columns(db.client, ns, 'items')).toEqual(['id', 'v']);
  });

  it.skipIf(lacks('postgresql'))('over critical-load before a unit the run stops resumably, and the same command resumes it once the load drops (PostgreSQL)', async () => {
    // Prepare
    const ns = uniqueName('lg');
    const load = await busy(db, observer!, 3);
    const { migrator, events } = harness(transport.runner, [table(ns)], { loadGuard: { maxLoad: { active: 1 }, criticalLoad: { active: 2 } } });

    // Act
    let stopped;
    try {
      stopped = await migrator.runToCompletion('up', 'head');
    } finally {
      await load.stop();
    }
    const resumed = await migrator.runToCompletion('up', 'head');

    // Assess: stopped before anything ran, listed as unfinished; the rerun resumed the same run
    expect(stopped.status).toBe('load_critical');
    expect(stopped.loadCritical).toEqual({ reason: 'active=3 > 2' });
    expect(stopped.position).toBe(0);
    expect(ofKind(events, 'load_critical')[0]).toMatchObject({ reason: 'active=3 > 2', action: 'stopped before the next unit' });
    expect(ofKind(events, 'run_stopped')[0]).toMatchObject({ status: 'in_progress', reason: 'load_critical' });
    expect(resumed.status, resumed.error?.message).toBe('done');
    expect(resumed.runId).toBe(stopped.runId);
  });
});

// A session holding a lock and another queued behind offpeak need a server; the watch of a waiting statement
// runs beside it (a pg client with several connections). Through the Data API the 1 s statement limit of the
// test server would end the wait first.
describe.skipIf(lacks('postgresql'))('load guard while a unit runs (PostgreSQL)', () => {
  let transport: RunnerTransport;
  let db: TestDatabase;
  let observer: pg.Client;
  let holder: pg.Client;
  let reader: pg.Client;
  beforeAll(async () => {
    transport = await runnerTransports[0]![1]();
    db = transport.db;
    [observer, holder, reader] = [0, 1, 2].map(() => new pg.Client({ connectionString: db.url })) as [pg.Client, pg.Client, pg.Client];
    await Promise.all([observer.connect(), holder.connect(), reader.connect()]);
  });
  afterEach(async () => {
    await holder.query('ROLLBACK').catch(() => {});
    await holder.query('SELECT pg_advisory_unlock_all()').catch(() => {});
  });
  afterAll(async () => {
    await Promise.all([observer?.end(), holder?.end(), reader?.end()]);
    await transport?.dispose();
  });

  /** Until one of offpeak's sessions (its pool's application_name) waits on a lock. */
  const waitingFor = (what: string) =>
    until(`offpeak's ${what} to wait for a lock`, async () => {
      const { rows } = await observer.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name LIKE 'offpeak:%'`);
      return rows.length > 0;
    });

  /** The table applied, in a ledger schema of its own. */
  async function prepared(): Promise<{ ns: string; base: Migration; schema: string }> {
    const ns = uniqueName('lg');
    const base = table(ns);
    const schema = uniqueName('offpeak_t');
    expect((await harness(db.client, [base], { schema }).migrator.runToCompletion('up', 'head')).status).toBe('done');
    return { ns, base, schema };
  }

  it('over critical-load while its strong-lock statement waits for the lock: the statement is cancelled and the run stops resumably', async () => {
    // Prepare: the table applied; a reader's open transaction holds ACCESS SHARE, so the ALTER waits
    const { ns, base, schema } = await prepared();
    const { migrator, events } = harness(db.client, [base, addColumn(ns)], { schema, lockTimeoutMs: 120_000, loadGuard: { criticalLoad: { active: 2 }, watchIntervalMs: 50 } });
    await holder.query('BEGIN');
    await holder.query(`SELECT count(*) FROM ${ns}.items`);

    // Act: the ALTER waits; then the load rises over critical
    const run = migrator.runToCompletion('up', 'head');
    await waitingFor('ALTER TABLE');
    const load = await busy(db, observer, 3);
    const stopped = await run;
    await load.stop();
    await holder.query('COMMIT');
    const resumed = await migrator.runToCompletion('up', 'head');

    // Assess: cancelled while waiting (nothing applied), stopped resumably; the rerun applied it
    expect(stopped.status, stopped.error?.message).toBe('load_critical');
    expect(stopped.loadCritical?.reason).toBe('active=3 > 2');
    expect(ofKind(events, 'load_critical')[0]).toMatchObject({ action: 'cancelled the statement waiting for its lock' });
    expect(resumed.status, resumed.error?.message).toBe('done');
    expect(resumed.runId).toBe(stopped.runId);
    expect(await columns(db.client, ns, 'items')).toEqual(['id', 'v', 'note']);
  });

  it('sessions queued behind its waiting statement past the threshold: the statement is cancelled and retried, and the queued reader gets through', async () => {
    // Prepare
    const { ns, base, schema } = await prepared();
    const { migrator, events } = harness(db.client, [base, addColumn(ns)], {
      schema,
      lockTimeoutMs: 120_000,
      loadGuard: { maxLoad: { active: 1000 }, lockQueueMs: 200, watchIntervalMs: 50 },
    });
    await holder.query('BEGIN');
    await holder.query(`SELECT count(*) FROM ${ns}.items`);

    // Act: the ALTER waits; a reader queues behind it; the reader must get its answer while the holder still holds
    const run = migrator.runToCompletion('up', 'head');
    await waitingFor('ALTER TABLE');
    const { rows } = await reader.query<{ n: string }>(`SELECT count(*) AS n FROM ${ns}.items`);
    const cancelledWhileHeld = ofKind(events, 'lock_queue_cancelled');
    await holder.query('COMMIT');
    const result = await run;

    // Assess
    expect(rows[0]?.n).toBe('100');
    expect(cancelledWhileHeld.length).toBeGreaterThanOrEqual(1);
    expect(cancelledWhileHeld[0]!.queued).toBeGreaterThanOrEqual(1);
    expect(cancelledWhileHeld[0]!.queuedMs).toBeGreaterThanOrEqual(200);
    expect(ofKind(events, 'lock_timeout_retry').length).toBeGreaterThanOrEqual(1);
    expect(result.status, result.error?.message).toBe('done');
    expect(await columns(db.client, ns, 'items')).toEqual(['id', 'v', 'note']);
  });

  it('the lock-queue watch also cancels and retries a standalone strong-lock statement', async () => {
    // Prepare: a standalone (autocommit) ALTER, run inside its "done" write by the runner
    const { ns, base, schema } = await prepared();
    const standalone = defineMigration({
      revision: '202601010002',
      downRevision: '202601010001',
      description: 'add a memo, outside a transaction',
      risk: 'low',
      up: [sqlStep(`ALTER TABLE ${ns}.items ADD COLUMN IF NOT EXISTS memo text`, { mode: 'standalone', lock: 'strong', tables: [`${ns}.items`] })],
      down: [sqlStep(`ALTER TABLE ${ns}.items DROP COLUMN IF EXISTS memo`, { tables: [`${ns}.items`] })],
    });
    const { migrator, events } = harness(db.client, [base, standalone], { schema, loadGuard: { maxLoad: { active: 1000 }, lockQueueMs: 200, watchIntervalMs: 50 } });
    await holder.query('BEGIN');
    await holder.query(`SELECT count(*) FROM ${ns}.items`);

    // Act
    const run = migrator.runToCompletion('up', 'head');
    await waitingFor('standalone ALTER TABLE');
    const { rows } = await reader.query<{ n: string }>(`SELECT count(*) AS n FROM ${ns}.items`);
    const cancelledWhileHeld = ofKind(events, 'lock_queue_cancelled').length;
    await holder.query('COMMIT');
    const result = await run;

    // Assess
    expect(rows[0]?.n).toBe('100');
    expect(cancelledWhileHeld).toBeGreaterThanOrEqual(1);
    expect(ofKind(events, 'lock_timeout_retry').length).toBeGreaterThanOrEqual(1);
    expect(result.status, result.error?.message).toBe('done');
    expect(await columns(db.client, ns, 'items')).toEqual(['id', 'v', 'memo']);
  });

  it('counts sessions waiting on a lock against waiting=M, and goes on once they got it', async () => {
    // Prepare: the holder takes advisory lock 77; two sessions wait for it (state active, wait_event_type Lock)
    const { ns, base, schema } = await prepared();
    const POLL = 3210;
    let clock = Date.parse('2026-03-01T02:00:00Z');
    let polls = 0;
    await holder.query('SELECT pg_advisory_lock(77)');
    const waiters = [new pg.Client({ connectionString: db.url }), new pg.Client({ connectionString: db.url })];
    await Promise.all(waiters.map((c) => c.connect()));
    const waiting = waiters.map((c) => c.query('SELECT pg_advisory_lock(77)').then(() => c.query('SELECT pg_advisory_unlock_all()')));
    const lockWaiters = async () =>
      (await observer.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query = 'SELECT pg_advisory_lock(77)'`)).rowCount ?? 0;
    await until('two sessions waiting on the advisory lock', async () => (await lockWaiters()) === 2);
    const sleep = async (ms: number) => {
      if (ms !== POLL) return new Promise<void>((r) => setTimeout(r, Math.min(ms, 20)));
      clock += ms;
      if (++polls === 1) {
        await holder.query('SELECT pg_advisory_unlock(77)');
        await Promise.all(waiting);
        await until('no session waiting on the advisory lock', async () => (await lockWaiters()) === 0);
      }
    };
    const { migrator, events } = harness(db.client, [base, addColumn(ns)], { schema, now: () => new Date(clock), sleep, loadGuard: { maxLoad: { waiting: 1 }, pollIntervalMs: POLL } });

    // Act
    let result;
    try {
      result = await migrator.runToCompletion('up', 'head');
    } finally {
      await Promise.all(waiters.map((c) => c.end()));
    }

    // Assess: one throttled poll on waiting (active is not limited here), then it ran
    expect(ofKind(events, 'throttled').map((e) => e.reason)).toEqual(['waiting=2 > 1']);
    expect(result.status, result.error?.message).toBe('done');
    expect(result.throttledMs).toBe(POLL);
    expect(await columns(db.client, ns, 'items')).toEqual(['id', 'v', 'note']);
  });

  /** A migration building an index over `gate(v)`, a function that waits for advisory lock 4242 on every row. */
  async function gatedBuild(ns: string): Promise<Migration> {
    await db.client.query(sql`CREATE FUNCTION ${sql.ident(ns, 'gate')}(x integer) RETURNS integer IMMUTABLE LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_lock_shared(4242); PERFORM pg_advisory_unlock_shared(4242); RETURN x; END $$`);
    return defineMigration({
      revision: '202601010002',
      downRevision: '202601010001',
      description: 'index items by gate(v)',
      risk: 'low',
      up: [createIndex({ name: 'idx_items_gate', schema: ns, table: 'items', columns: [`${ns}.gate(v)`] })],
    });
  }

  // (The load must end before the build can: CREATE INDEX CONCURRENTLY waits for every older snapshot, and the
  // busy sessions' pg_sleep holds one. The stop before the next unit is the before-unit test's.)
  it('over critical-load while an index builds: the build is let finish and the time over max-load is counted as throttled', async () => {
    // Prepare: the build blocks on the advisory lock the holder takes
    const { ns, base, schema } = await prepared();
    const build = await gatedBuild(ns);
    const { migrator, events } = harness(db.client, [base, build, addColumn(ns, '202601010003', '202601010002')], {
      schema,
      loadGuard: { maxLoad: { active: 1 }, criticalLoad: { active: 2 }, watchIntervalMs: 50 },
    });
    await holder.query('SELECT pg_advisory_lock(4242)');

    // Act: the build waits on the gate; the load rises; once the guard said it lets the build finish, open the gate
    const run = migrator.runToCompletion('up', 'head');
    await waitingFor('index build');
    const load = await busy(db, observer, 3);
    await until('the guard to let the build run on', async () => ofKind(events, 'load_critical').length > 0);
    await load.stop();
    await holder.query('SELECT pg_advisory_unlock(4242)');
    const result = await run;

    // Assess
    expect(ofKind(events, 'load_critical')[0]).toMatchObject({ reason: 'active=3 > 2', action: 'letting the running statement finish' });
    expect(ofKind(events, 'throttled')[0]).toMatchObject({ during: 'build', reason: 'active=3 > 2' });
    expect(result.status, result.error?.message).toBe('done');
    expect(result.applied).toEqual(['202601010002', '202601010003']);
    expect(result.throttledMs).toBeGreaterThan(0);
    expect(await indexes(db.client, ns)).toEqual([{ name: 'idx_items_gate', valid: true }]);
    expect(await columns(db.client, ns, 'items')).toEqual(['id', 'v', 'note']);
  });

  it('over critical-load with cancel-builds: the build is cancelled, the run stops resumably, and the rerun builds a valid index', async () => {
    // Prepare
    const { ns, base, schema } = await prepared();
    const build = await gatedBuild(ns);
    const { migrator, events } = harness(db.client, [base, build], { schema, loadGuard: { criticalLoad: { active: 2, cancelBuilds: true }, watchIntervalMs: 50 } });
    await holder.query('SELECT pg_advisory_lock(4242)');

    // Act
    const run = migrator.runToCompletion('up', 'head');
    await waitingFor('index build');
    const load = await busy(db, observer, 3);
    const stopped = await run;
    await load.stop();
    await holder.query('SELECT pg_advisory_unlock(4242)');
    const resumed = await migrator.runToCompletion('up', 'head');

    // Assess
    expect(stopped.status, stopped.error?.message).toBe('load_critical');
    expect(ofKind(events, 'load_critical')[0]).toMatchObject({ action: 'cancelled the index build' });
    expect(stopped.applied).toEqual([]);
    expect(resumed.status, resumed.error?.message).toBe('done');
    expect(resumed.runId).toBe(stopped.runId);
    expect(await indexes(db.client, ns)).toEqual([{ name: 'idx_items_gate', valid: true }]);
  });
});

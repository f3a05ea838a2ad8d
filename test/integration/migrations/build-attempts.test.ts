import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { createPgClient } from '../../../lambdas/core/db/pg.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { createIndex, defineMigration } from '../../../lambdas/core/migrations/model.ts';
import { noticeBuild } from '../../../lambdas/core/migrations/running-builds.ts';
import { renderNoticeText } from '../../../lambdas/core/render/notice.ts';
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from '../../support/database.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { harness, indexes, slowIndexMigration, slowItems, uniqueName } from './helpers.ts';

/**
 * Index builds that outlive their call (and their advance call), on PostgreSQL: attempts journaled and
 * counted in the ledger across calls, the cause of a failure named, a drop of an INVALID index stopped at
 * the deadline and waited for by the next call, and `window_closed` naming the builds still running and
 * what blocks them. Each on both ways a call hands a statement back: a pg client made with
 * `stillRunningAfterMs` (100 ms) and the Data API past its statement timeout (1 s). PostgreSQL only: the
 * builds are held up by a second session, which PGlite (one connection) cannot have.
 */
interface Transport {
  name: string;
  /** The runner's client, counting the builds and drops it sends. */
  runner: SqlClient;
  db: TestDatabase;
  sent: { builds: number; drops: number };
}

const transports: Array<[string, () => Promise<{ t: Transport; dispose: () => Promise<void> }>]> = [
  [
    'pg, handed back after 100 ms',
    async () => {
      const db = await createTestDatabase();
      const client = createPgClient({ connectionString: db.url!, stillRunningAfterMs: 100, max: 4 });
      const t = counted('pg', client, db);
      return { t, dispose: async () => (await client.close(), await db.dispose()) };
    },
  ],
  [
    'the Data API, 1 s statement timeout',
    async () => {
      const api: TestDataApi = await startTestDataApi({ statementTimeoutMs: 1000 });
      const t = counted('data-api', api.adapter(), api.db);
      return { t, dispose: () => api.dispose() };
    },
  ],
];

function counted(name: string, client: SqlClient, db: TestDatabase): Transport {
  const sent = { builds: 0, drops: 0 };
  const runner: SqlClient = {
    ...client,
    executeLong: (query) => {
      const text = query.toString();
      if (/^CREATE (UNIQUE )?INDEX/.test(text)) sent.builds++;
      if (text.startsWith('DROP INDEX CONCURRENTLY')) sent.drops++;
      return client.executeLong(query);
    },
  };
  return { name, runner, db, sent };
}

/** A session holding an uncommitted write on `table`: a concurrent build waits for it ("waiting for writers before build"). */
async function writer(db: TestDatabase, table: string): Promise<{ pid: number; release: () => Promise<void> }> {
  const session = new pg.Client({ connectionString: db.url! });
  await session.connect();
  await session.query('BEGIN');
  await session.query(`INSERT INTO ${table} (id, code) VALUES (1000000, 'held')`);
  const { rows } = await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return {
    pid: rows[0]!.pid,
    release: async () => {
      await session.query('ROLLBACK').catch(() => undefined);
      await session.end();
    },
  };
}

/** A session that has read `table` in an open transaction: a concurrent drop of its index waits for it. */
async function reader(db: TestDatabase, table: string): Promise<{ release: () => Promise<void> }> {
  const session = new pg.Client({ connectionString: db.url! });
  await session.connect();
  await session.query('BEGIN');
  await session.query(`SELECT count(*) FROM ${table}`);
  return {
    release: async () => {
      await session.query('ROLLBACK').catch(() => undefined);
      await session.end();
    },
  };
}

/** A new schema with `codes (id, code)`; `duplicate` puts the code 'a' twice. */
async function codes(db: TestDatabase, duplicate: boolean): Promise<string> {
  const ns = uniqueName('app');
  await db.client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
  await db.client.query(sql`CREATE TABLE ${sql.ident(ns, 'codes')} (id int PRIMARY KEY, code text)`);
  await db.client.query(sql`INSERT INTO ${sql.ident(ns, 'codes')} VALUES (1, 'a'), (2, ${duplicate ? 'a' : 'b'}), (3, 'c')`);
  return ns;
}

const uniqueCodes = (ns: string) =>
  defineMigration({
    revision: 'r1',
    downRevision: null,
    description: 'unique codes',
    risk: 'low',
    up: [createIndex({ name: 'idx_codes_code', schema: ns, table: 'codes', columns: ['code'], unique: true })],
  });

/** Waits (generously) until no index build runs in the database. */
async function buildsGone(db: TestDatabase): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { rows } = await db.client.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_stat_progress_create_index WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    if (rows[0]!.n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('an index build still runs after 30 s');
}

/** The runner's events journaled for the build step: [status, sqlstate] in order. */
async function journal(db: TestDatabase, ledger: string): Promise<Array<[string, string | null, string | null]>> {
  const { rows } = await db.client.query<{ status: string; sqlstate: string | null; key: string | null }>(
    sql`SELECT status, sqlstate, event_key AS key FROM ${sql.ident(ledger, 'migration_events')} WHERE step = 0 ORDER BY id`,
  );
  return rows.map((r) => [r.status, r.sqlstate, r.key?.replace(/^build:[^:]+:/, 'build:') ?? null]);
}

describe.skipIf(!testDatabaseUrl).each(transports)('index builds past their call, through %s (PostgreSQL)', (_name, open) => {
  let t: Transport;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ t, dispose } = await open());
  }, 120_000);
  afterAll(async () => {
    await dispose?.();
  });

  it('a unique build over duplicate keys that outlives its advance call fails the run with the duplicate key named, after one build', async () => {
    // Prepare: the build waits for a writer, so it is still running when the first call's deadline passes.
    const ns = await codes(t.db, true);
    const held = await writer(t.db, `${ns}.codes`);
    let clock = Date.now();
    const h = harness(t.runner, [uniqueCodes(ns)], {
      now: () => new Date(clock),
      onEvent: (e) => {
        if (e.event === 'index_progress') clock += 60_000; // the deadline passes while the build runs
      },
    });
    const { runId } = await h.migrator.start('up', 'head');

    try {
      // Act: the first call stops at its deadline; the writer goes, the build fails on the duplicates; a second call.
      const first = await h.migrator.advance(runId, { deadline: new Date(clock + 30_000) });
      await held.release();
      await buildsGone(t.db);
      const second = await h.migrator.advance(runId);

      // Assess
      expect(first.status).toBe('in_progress');
      expect(second.status).toBe('failed');
      expect(second.error).toMatchObject({ revision: 'r1', step: 0, sqlState: '23505' });
      expect(second.error?.message).toContain('Key (code)=(a) is duplicated');
      expect(t.sent.builds).toBe(1);
      expect(await journal(t.db, h.ledger)).toEqual([
        ['started', null, 'build:r1:up:0:1:started'],
        ['failed', '23505', 'build:r1:up:0:1:failed'],
      ]);
      expect(await indexes(t.db.client, ns)).toEqual([]);
    } finally {
      await held.release();
      t.sent.builds = 0;
      t.sent.drops = 0;
    }
  });

  it('counts attempts in the ledger across advance calls: builds that fail between calls spend the budget, then the run fails with the cause', async () => {
    // Prepare: two attempts allowed; each build is slow (a function that sleeps per row), the call stops at its
    // deadline, and the test cancels the build between calls: a failure the runner only finds in the catalog.
    const ns = await slowItems(t.db.client, { rows: 30, seconds: 0.1 });
    let clock = Date.now();
    const h = harness(t.runner, [slowIndexMigration(ns)], {
      indexBuildAttempts: 2,
      now: () => new Date(clock),
      onEvent: (e) => {
        if (e.event === 'index_progress') clock += 60_000;
      },
    });
    const { runId } = await h.migrator.start('up', 'head');
    const cancelBuild = async () => {
      await t.db.client.query(sql`SELECT pg_cancel_backend(pid) FROM pg_stat_progress_create_index WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database())`);
      await buildsGone(t.db);
    };

    try {
      // Act
      const calls = [];
      for (let call = 0; call < 3; call++) {
        const result = await h.migrator.advance(runId, { deadline: new Date(clock + 30_000) });
        calls.push(result.status);
        if (result.status !== 'in_progress') break;
        await cancelBuild();
      }
      const again = await h.migrator.advance(runId);

      // Assess: two builds, two failures journaled, the run failed with the budget spent and where to look
      expect(calls).toEqual(['in_progress', 'in_progress', 'failed']);
      expect(t.sent.builds).toBe(2);
      const events = await journal(t.db, h.ledger);
      expect(events.map(([status, , key]) => `${status} ${key}`)).toEqual([
        'started build:r1:up:0:1:started',
        'failed build:r1:up:0:1:failed',
        'started build:r1:up:0:2:started',
        'failed build:r1:up:0:2:failed',
      ]);
      const run = await h.migrator.ledger.getRun(runId);
      expect(run?.status).toBe('failed');
      expect(run?.error).toMatch(/could not be built after 2 attempts: .*PostgreSQL's log/);
      // Advancing the failed run again builds nothing: the budget is spent until the run is resumed.
      expect(again.status).toBe('failed');
      expect(t.sent.builds).toBe(2);
      expect(await indexes(t.db.client, ns)).toEqual([]);

      // Act: the failed run is resumed (its cause, the cancels, gone): its budget starts again.
      const resumed = await h.migrator.runToCompletion('up', 'head');

      // Assess
      expect(resumed.status, resumed.error?.message).toBe('done');
      expect(resumed.runId).toBe(runId);
      expect(await indexes(t.db.client, ns)).toEqual([{ name: 'idx_items_slow', valid: true }]);
    } finally {
      t.sent.builds = 0;
      t.sent.drops = 0;
    }
  }, 120_000);

  it('a drop of an INVALID leftover stops at the deadline; the next call waits for the running drop instead of starting another', async () => {
    // Prepare: a stray INVALID index with the migration's name, and a reader whose transaction the drop waits for.
    const ns = await codes(t.db, false);
    await t.db.client.query(sql`CREATE INDEX idx_codes_code ON ${sql.ident(ns, 'codes')} (id)`);
    await t.db.client.query(sql`UPDATE pg_index SET indisvalid = false WHERE indexrelid = ${`${ns}.idx_codes_code`}::regclass`);
    const held = await reader(t.db, `${ns}.codes`);
    let clock = Date.now();
    const h = harness(t.runner, [uniqueCodes(ns)], {
      now: () => new Date(clock),
      // Each poll moves the clock 10 s: a call with a 30 s deadline stops after a few polls.
      sleep: (ms) => {
        clock += 10_000;
        return new Promise((r) => setTimeout(r, Math.min(ms, 100)));
      },
    });
    const { runId } = await h.migrator.start('up', 'head');
    const dropRunning = async () =>
      (
        await t.db.client.query<{ n: number }>(
          sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'DROP INDEX CONCURRENTLY%' AND strpos(query, ${ns}) > 0`,
        )
      ).rows[0]!.n;

    try {
      // Act
      const first = await h.migrator.advance(runId, { deadline: new Date(clock + 30_000) });
      const runningAfterFirst = await dropRunning();
      const second = await h.migrator.advance(runId, { deadline: new Date(clock + 30_000) });
      const runningAfterSecond = await dropRunning();
      const dropsBeforeRelease = t.sent.drops;
      await held.release();
      const third = await h.migrator.advance(runId);

      // Assess: both calls returned at their deadline with the drop still running; one drop in all, then the build
      expect(first.status).toBe('in_progress');
      expect(runningAfterFirst).toBe(1);
      expect(second.status).toBe('in_progress');
      expect(runningAfterSecond).toBe(1);
      expect(dropsBeforeRelease).toBe(1);
      expect(third.status, third.error?.message).toBe('done');
      expect(t.sent.drops).toBe(1);
      expect(t.sent.builds).toBe(1);
      // A stray leftover (no journaled start) is no attempt of this run.
      expect((await journal(t.db, h.ledger)).filter(([status]) => status === 'failed')).toEqual([]);
      expect(await indexes(t.db.client, ns)).toEqual([{ name: 'idx_codes_code', valid: true }]);
    } finally {
      await held.release();
      t.sent.builds = 0;
      t.sent.drops = 0;
    }
  });

  it('window_closed names each build still running, its phase and progress, and the pids blocking it', async () => {
    // Prepare: a window 02:00-03:00 UTC; the build waits for a writer; the clock passes 03:00 while it does.
    const ns = await codes(t.db, false);
    const held = await writer(t.db, `${ns}.codes`);
    let clock = Date.parse('2026-01-05T02:10:00Z');
    let closing = true;
    const window = { start: '02:00', durationMinutes: 60, timeZone: 'UTC' };
    const h = harness(t.runner, [uniqueCodes(ns)], {
      now: () => new Date(clock),
      onEvent: (e) => {
        if (e.event === 'index_progress' && closing) clock = Date.parse('2026-01-05T03:00:30Z');
      },
    });

    try {
      // Act
      const closed = await h.migrator.runToCompletion('up', 'head', { window });

      // Assess
      expect(closed.status).toBe('window_closed');
      expect(closed.runningBuilds).toEqual([
        expect.objectContaining({
          schema: ns,
          index: 'idx_codes_code',
          table: 'codes',
          command: 'CREATE INDEX CONCURRENTLY',
          phase: expect.stringMatching(/^waiting for/),
          blockedBy: [expect.objectContaining({ pid: held.pid, state: 'idle in transaction' })],
        }),
      ]);
      // The window_closed notice (email text; Slack renders the same sections) names them too.
      const notice = renderNoticeText({
        kind: 'window_closed',
        database: 'app',
        runId: closed.runId,
        position: closed.position,
        total: closed.total,
        next: closed.next,
        remaining: ['r1'],
        runningBuilds: (closed.runningBuilds ?? []).map(noticeBuild),
        commands: { resume: 'resume', rollback: 'rollback' },
      }).text;
      expect(notice).toContain(`Still building:\n  ${ns}.idx_codes_code on ${ns}.codes (waiting for`);
      expect(notice).toContain(`waits for pid ${held.pid} [idle in transaction]`);

      // Act: the writer goes; in the next window the run picks the build up.
      await held.release();
      closing = false;
      clock = Date.parse('2026-01-06T02:05:00Z');
      const next = await h.migrator.runToCompletion('up', 'head', { window });

      // Assess
      expect(next.status, next.error?.message).toBe('done');
      expect(t.sent.builds).toBe(1);
      expect(await indexes(t.db.client, ns)).toEqual([{ name: 'idx_codes_code', valid: true }]);
    } finally {
      await held.release();
      t.sent.builds = 0;
      t.sent.drops = 0;
    }
  });
});

// PGlite by default, PostgreSQL with TEST_DATABASE_URL: a build that fails inside its call, where the client sees the error.
describe('a unique build that fails inside its call', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  }, 60_000);
  afterAll(async () => {
    await db?.dispose();
  });

  it('journals its attempt started and failed with the cause, and fails the run at once naming the duplicate key', async () => {
    // Prepare
    const ns = await codes(db, true);
    const sent = counted(db.kind, db.client, db);
    const h = harness(sent.runner, [uniqueCodes(ns)]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess: duplicates are no transient cause: one build, not three
    expect(result).toMatchObject({ status: 'failed', error: { revision: 'r1', step: 0, sqlState: '23505' } });
    expect(result.error?.message).toMatch(/could not be built \(attempt 1; another build would fail the same way\): 23505 .*Key \(code\)=\(a\) is duplicated/);
    expect(sent.sent.builds).toBe(1);
    expect(await journal(db, h.ledger)).toEqual([
      ['started', null, 'build:r1:up:0:1:started'],
      ['failed', '23505', 'build:r1:up:0:1:failed'],
    ]);
    expect(await indexes(db.client, ns)).toEqual([]);
  });
});

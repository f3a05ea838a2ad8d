/**
 * Standalone steps: each one autocommit statement (CONCURRENTLY work), run through `executeLong`, journaled
 * when done, and resumable after a crash or a Data API call that returned `still_running`.
 *
 * - An index build goes straight to `CREATE INDEX CONCURRENTLY IF NOT EXISTS`; its "done" write is gated on
 *   `indisvalid` in the same statement (the build + 1 round trip). Only when the gate fails does it look at
 *   the catalog: a build still running (a still-running call, or a killed run's statement the server still
 *   runs) is waited for, with `index_progress` events from pg_stat_progress_create_index; an INVALID
 *   leftover is dropped concurrently and rebuilt, up to `indexBuildAttempts`.
 * - Any other standalone statement first checks that no killed run still runs it (the check carries its
 *   "started" event), then runs, retrying lock timeouts with backoff. An index drop's "done" write is gated
 *   on the index being gone; a raw SQL step has no such check, so it must be idempotent.
 * - Waits stop when the context's deadline nears ('deadline'): the next advance call picks the step up
 *   from the catalog.
 */
import type { SqlClient } from '../db/client.ts';
import { LOCK_RETRY_SQLSTATES, sqlStateOf } from '../db/sqlstate.ts';
import { quoteIdent, sql, SqlQuery } from '../db/sql.ts';
import { MigrationFailedError } from '../errors.ts';
import type { MigrationEvent } from './events.ts';
import type { Lease } from './lease.ts';
import type { Direction, JournalEntry, Ledger } from './ledger.ts';
import type { CreateIndexStep, LoadedMigration, Step } from './model.ts';

/** The migration step's statement, as written. */
export const stepSql = (step: Step) => new SqlQuery([step.sql]);

export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** What a standalone step needs to know of its advance call. */
export interface StandaloneContext {
  runId: string;
  /** Stop waiting when this nears (within `marginMs`). */
  deadline: Date | undefined;
  /**
   * The step may already be running on the server: it is the first unit of this advance call, which an
   * earlier call (still_running at its deadline) or a killed run may have left building. An index build
   * then looks at the catalog first: a second CREATE INDEX CONCURRENTLY queued on the table's lock would
   * deadlock with the running build's wait for older snapshots, and PostgreSQL may cancel the build.
   */
  mayBeRunning: boolean;
}

/** A standalone step's journal entries: "started" (raw SQL steps only) rides on its first check, "done" advances the run. */
export interface StepJournal {
  started: JournalEntry;
  done: () => JournalEntry;
}

export interface StandaloneOptions {
  client: SqlClient;
  ledger: Ledger;
  lease: Lease;
  emit: (event: MigrationEvent) => void;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Delay before retry `attempt` (1-based). */
  backoff: (attempt: number) => number;
  pollIntervalMs: number;
  marginMs: number;
  lockAttempts: number;
  indexBuildAttempts: number;
}

export interface StandaloneSteps {
  /** Runs one standalone step and writes its "done" entry; 'deadline' when the deadline nears first. */
  run(ctx: StandaloneContext, m: LoadedMigration, direction: Direction, index: number, step: Step, journal: StepJournal): Promise<'done' | 'deadline'>;
}

export function createStandaloneSteps(options: StandaloneOptions): StandaloneSteps {
  const { client, ledger, lease, emit, now, sleep, backoff, pollIntervalMs, marginMs, lockAttempts, indexBuildAttempts } = options;

  /** A standalone statement other than an index build: executeLong, retry on lock timeouts, wait out still_running. */
  async function runStandalone(ctx: StandaloneContext, m: LoadedMigration, direction: Direction, index: number, step: Step, journal: StepJournal): Promise<'done' | 'deadline'> {
    for (let attempt = 1; ; attempt++) {
      // A killed run may have left this very statement running on the server: wait for it first.
      const running =
        attempt === 1
          ? (await ledger.journal<{ running: boolean }>(client, journal.started, { select: sql`SELECT ${runningExpr(step.sql)} AS running` }))?.running === true
          : await statementRunning(step.sql);
      if (running && (await waitWhileRunning(ctx, step.sql)) === 'deadline') return 'deadline';
      try {
        const outcome = await client.executeLong(stepSql(step));
        if (outcome.state === 'still_running' && (await waitWhileRunning(ctx, step.sql, outcome.finished)) === 'deadline') return 'deadline';
        // An index drop is "done" only once the index is gone, checked in the same statement: a drop that
        // failed after its Data API call had returned (the service cannot report it) must not be journaled.
        const dropped = step.kind === 'drop_index' ? qualified(step.index.schema, step.index.name) : undefined;
        if ((await ledger.journal(client, journal.done(), dropped ? { when: sql`to_regclass(${dropped}) IS NULL` } : {}))?.ok) return 'done';
        throw new MigrationFailedError(
          `${m.file} (${m.revision}) ${direction} step ${index + 1}: the drop ended but index ${dropped} ` +
            'is still there (it failed after the call returned, or something recreated it); run again to retry',
          { revision: m.revision, step: index, direction, context: { file: m.file } },
        );
      } catch (error) {
        const state = sqlStateOf(error);
        if (state && LOCK_RETRY_SQLSTATES.has(state) && attempt < lockAttempts) {
          const delayMs = Math.round(backoff(attempt));
          emit({ event: 'lock_timeout_retry', runId: ctx.runId, revision: m.revision, direction, step: index, attempt, delayMs });
          await sleep(delayMs);
          continue;
        }
        throw error;
      }
    }
  }

  async function statementRunning(text: string): Promise<boolean> {
    const { rows } = await client.query<{ running: boolean }>(sql`SELECT ${runningExpr(text)} AS running`);
    return rows[0]?.running === true;
  }

  /**
   * Waits while a session runs `text`; 'deadline' when the deadline nears first. With `finished` (the client
   * still holds the statement), wakes as soon as it ends and throws the statement's error, if any.
   */
  async function waitWhileRunning(ctx: StandaloneContext, text: string, finished?: Promise<void>): Promise<'done' | 'deadline'> {
    while (await statementRunning(text)) {
      if (ctx.deadline && ctx.deadline.getTime() - now().getTime() < marginMs) return 'deadline';
      await pause(finished);
    }
    await finished;
    return 'done';
  }

  /** The poll interval, cut short when `finished` settles. */
  async function pause(finished: Promise<void> | undefined): Promise<void> {
    await (finished ? Promise.race([sleep(pollIntervalMs), finished.catch(() => undefined)]) : sleep(pollIntervalMs));
  }

  interface IndexState {
    exists: boolean;
    valid: boolean;
    running: boolean;
    phase: string | null;
    blocks_done: number | null;
    blocks_total: number | null;
    tuples_done: number | null;
    tuples_total: number | null;
  }

  function indexStateQuery(step: CreateIndexStep): SqlQuery {
    return sql`
      SELECT c.oid IS NOT NULL AS exists, coalesce(i.indisvalid, false) AS valid,
             (p.pid IS NOT NULL OR ${runningExpr(step.sql)}) AS running,
             p.phase, p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total
      FROM (SELECT 1) AS one
      LEFT JOIN pg_namespace n ON n.nspname = ${step.index.schema}
      LEFT JOIN pg_class c ON c.relname = ${step.index.name} AND c.relnamespace = n.oid
      LEFT JOIN pg_index i ON i.indexrelid = c.oid
      LEFT JOIN pg_stat_progress_create_index p ON p.index_relid = c.oid AND c.oid IS NOT NULL
        AND p.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())`;
  }

  async function indexState(step: CreateIndexStep): Promise<IndexState> {
    const { rows } = await client.query<IndexState>(indexStateQuery(step));
    return rows[0]!;
  }

  /**
   * The index's state after a build failed, once the failed build has let go. PostgreSQL sends the error
   * before it aborts the transaction, so for a moment the failed backend can still show in
   * pg_stat_activity and pg_stat_progress_create_index, and its INVALID index would look like one another
   * session is building (which must not be dropped). Another session's build outlasts the short wait.
   */
  async function stateAfterFailure(step: CreateIndexStep): Promise<IndexState | undefined> {
    for (let look = 1; ; look++) {
      const state = await indexState(step).catch(() => undefined);
      if (!state?.running || look >= 20) return state;
      await sleep(50);
    }
  }

  /** True when the step's index exists and is valid: gates the step's "done" write. (to_regclass plans faster than a catalog join.) */
  const indexValid = (step: CreateIndexStep) =>
    sql`EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = to_regclass(${qualified(step.index.schema, step.index.name)}) AND i.indisvalid)`;

  async function dropInvalid(ctx: StandaloneContext, m: LoadedMigration, index: number, step: CreateIndexStep): Promise<void> {
    const drop = new SqlQuery([`DROP INDEX CONCURRENTLY IF EXISTS ${qualified(step.index.schema, step.index.name)}`]);
    const outcome = await client.executeLong(drop);
    if (outcome.state === 'still_running') await waitWhileRunning({ ...ctx, deadline: undefined }, drop.toString(), outcome.finished);
    emit({ event: 'invalid_index_dropped', runId: ctx.runId, revision: m.revision, step: index, index: step.index.name });
  }

  /**
   * Polls until no session builds the index; 'deadline' when the deadline nears first. With `finished` (the
   * client still holds this run's build), throws the build's error once it ends, as a build that failed in the
   * call would have.
   */
  async function pollBuild(ctx: StandaloneContext, m: LoadedMigration, index: number, step: CreateIndexStep, finished?: Promise<void>): Promise<IndexState | 'deadline'> {
    for (;;) {
      const state = await indexState(step);
      if (!state.running) {
        await finished;
        return state;
      }
      emit({
        event: 'index_progress',
        runId: ctx.runId,
        revision: m.revision,
        step: index,
        index: step.index.name,
        phase: state.phase,
        blocksDone: state.blocks_done,
        blocksTotal: state.blocks_total,
        tuplesDone: state.tuples_done,
        tuplesTotal: state.tuples_total,
      });
      if (ctx.deadline && ctx.deadline.getTime() - now().getTime() < marginMs) return 'deadline';
      await lease.renew();
      await pause(finished);
    }
  }

  /**
   * Builds the step's index and writes its "done" journal entry; 'deadline' when the deadline nears first.
   * Unless the step may already be running (`ctx.mayBeRunning`), the first build goes ahead without a look
   * at the catalog: `IF NOT EXISTS` makes it a no-op when the index is already there, and the "done" write
   * right after it is gated on the index being valid. Only when that gate fails (an INVALID leftover) does
   * the runner look, drop and rebuild. So a build costs its statement + 1 round trip, not + 2.
   */
  async function buildIndex(ctx: StandaloneContext, m: LoadedMigration, index: number, step: CreateIndexStep, journal: StepJournal): Promise<'done' | 'deadline'> {
    let lastProblem = 'not built';
    let look = ctx.mayBeRunning;
    const done = async () => {
      await ledger.journal(client, journal.done());
      return 'done' as const;
    };
    for (let attempt = 1; attempt <= indexBuildAttempts; attempt++) {
      if (look) {
        let state = await indexState(step);
        if (state.running) {
          const polled = await pollBuild(ctx, m, index, step);
          if (polled === 'deadline') return 'deadline';
          state = polled;
        }
        if (state.exists && state.valid) return await done();
        if (state.exists) await dropInvalid(ctx, m, index, step);
        if (attempt > 1) emit({ event: 'index_build_retry', runId: ctx.runId, revision: m.revision, step: index, index: step.index.name, attempt, reason: lastProblem });
      }
      let state: IndexState;
      /** The build call returned without error yet left no valid index: IF NOT EXISTS met one already there. */
      let skipped = false;
      try {
        const outcome = await client.executeLong(stepSql(step));
        if (outcome.state === 'still_running') {
          const polled = await pollBuild(ctx, m, index, step, outcome.finished);
          if (polled === 'deadline') return 'deadline';
          state = polled;
        } else {
          // "done" only if the build left a valid index, in the same statement; otherwise look at what it left.
          // Its commit need not wait for the disk: were it lost in a server crash, the resumed run's build is
          // a no-op (IF NOT EXISTS) and this write happens again.
          if ((await ledger.journal(client, journal.done(), { when: indexValid(step), asyncCommit: true }))?.ok) return 'done';
          state = await indexState(step);
          skipped = true;
        }
      } catch (error) {
        const after = await stateAfterFailure(step);
        // A failed concurrent build leaves an INVALID index that costs on every write: never leave it behind.
        if (after?.exists && !after.valid && !after.running) await dropInvalid(ctx, m, index, step);
        const code = sqlStateOf(error);
        if (code && LOCK_RETRY_SQLSTATES.has(code) && attempt < indexBuildAttempts) {
          lastProblem = `${code}: ${errorText(error)}`;
          look = true;
          await sleep(Math.round(backoff(attempt)));
          continue;
        }
        throw error;
      }
      if (state.exists && state.valid) return await done();
      if (skipped && !look) {
        // The unlooked first build met an index already there and skipped it: that was no build attempt.
        // Look (wait for it, or drop the INVALID leftover) and build, still as attempt 1.
        look = true;
        attempt--;
        continue;
      }
      look = true;
      lastProblem = state.exists ? 'index is INVALID after the build' : 'index is missing after the build';
    }
    // The last attempt's INVALID index costs on every write: never leave it behind.
    const last = await stateAfterFailure(step);
    if (last?.exists && !last.valid && !last.running) await dropInvalid(ctx, m, index, step);
    throw new MigrationFailedError(
      `${m.file} (${m.revision}): index ${step.index.schema}.${step.index.name} is still not valid after ${indexBuildAttempts} attempts (${lastProblem})`,
      { revision: m.revision, step: index, direction: 'up', context: { file: m.file } },
    );
  }


  return {
    run: (ctx, m, direction, index, step, journal) =>
      step.kind === 'create_index' ? buildIndex(ctx, m, index, step, journal) : runStandalone(ctx, m, direction, index, step, journal),
  };
}

/**
 * Matches a statement in pg_stat_activity, allowing for track_activity_query_size truncation. Only in this
 * database: the view covers the whole server, where another database may run the very same migration.
 */
function runningExpr(text: string): SqlQuery {
  return sql`EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid() AND a.state = 'active' AND a.datname = current_database()
    AND (a.query = ${text} OR (length(a.query) >= 1000 AND starts_with(${text}, a.query))))`;
}

/** A schema-qualified, quoted name. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}



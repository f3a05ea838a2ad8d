/**
 * Standalone steps: each one autocommit statement (CONCURRENTLY work), run through `executeLong`, journaled
 * when done, and resumable after a crash or a Data API call that returned `still_running`. A step is journaled
 * `done` only when its outcome is known to be success: never because a statement that ran past its call ended.
 *
 * - An index build journals `started` (keyed by attempt number) before it runs, then builds with
 *   `CREATE INDEX CONCURRENTLY IF NOT EXISTS`; its "done" write is gated on `indisvalid` in the same
 *   statement. A build still running (past its call, or a killed run's) is followed, with `index_progress`
 *   events from pg_stat_progress_create_index. Each INVALID outcome is journaled `failed` with its cause
 *   (the error when the client saw it; for a unique index, a duplicate key found with one GROUP BY query;
 *   otherwise where PostgreSQL logged the ERROR), the leftover is dropped, and the build retried while the
 *   attempt budget (`indexBuildAttempts`, counted in the ledger across calls since the run started or was
 *   resumed) lasts and the cause may be transient. An INVALID leftover found after a journaled `started`
 *   of this run is that attempt's failure; one without is a stray leftover, dropped and not counted.
 * - Any other standalone statement first checks that no killed run still runs it (the check carries its
 *   "started" event). A raw SQL statement that PostgreSQL lets run inside a function runs inside the
 *   "done" write itself (the ledger's `execute_step`), so `done` commits if and only if the statement did;
 *   others (CONCURRENTLY, VACUUM, …) run alone, retrying lock timeouts with backoff, and their "done" write
 *   is gated on the step's post-condition: the index gone for a drop, `verify` for a raw SQL step. A raw
 *   step without `verify` whose statement ran past its call and ended cannot be known: it is journaled
 *   `unknown` and fails the run.
 * - Waits (builds, drops, statements past their call) stop when the deadline or the window's close nears
 *   ('deadline' | 'window_closed'): the next advance call picks the step up from the catalog, the ledger and
 *   pg_stat_activity, waiting for what still runs (a build, an INVALID index's drop) rather than starting it twice.
 */
import type { LongStatementOutcome, SqlClient } from '../db/client.ts';
import { LOCK_RETRY_SQLSTATES, sqlStateOf } from '../db/sqlstate.ts';
import { quoteIdent, sql, SqlQuery } from '../db/sql.ts';
import { DatabaseError, InterruptedError, MigrationFailedError } from '../errors.ts';
import type { MigrationEvent } from './events.ts';
import type { Lease } from './lease.ts';
import { cancelledForLockQueue } from './load-guard.ts';
import { buildEventKey, type Direction, type JournalEntry, type Ledger } from './ledger.ts';
import type { CreateIndexStep, LoadedMigration, Step } from './model.ts';

/** The migration step's statement, as written. */
export const stepSql = (step: Step) => new SqlQuery([step.sql]);

export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** What a standalone step needs to know of its advance call. */
export interface StandaloneContext {
  runId: string;
  /** Stop waiting when this nears (within `marginMs`). */
  deadline: Date | undefined;
  /** When the call's off-peak window closes, if it has one: waits stop there too ('window_closed'). */
  windowCloses?: Date | undefined;
  /**
   * The step may already be running on the server: it is the first unit of this advance call, which an
   * earlier call (still_running at its deadline) or a killed run may have left building. An index build
   * then looks at the catalog first: a second CREATE INDEX CONCURRENTLY queued on the table's lock would
   * deadlock with the running build's wait for older snapshots, and PostgreSQL may cancel the build.
   * Otherwise the step was never reached before in this run (positions only move forward).
   */
  mayBeRunning: boolean;
  /** Aborted on an interrupt: waits and attempts stop (InterruptedError); the runner cancels the statement. */
  signal?: AbortSignal | undefined;
}

/** Throws InterruptedError once the call's signal is aborted. */
export function throwIfInterrupted(ctx: Pick<StandaloneContext, 'signal'>, what = 'a standalone step'): void {
  if (ctx.signal?.aborted) throw new InterruptedError(what);
}

/** How a standalone step's call ended: done, or stopped waiting for what still runs on the server. */
export type StandaloneOutcome = 'done' | 'deadline' | 'window_closed';

/** A standalone step's journal entries: "started" (raw SQL steps) rides on its first check, "done" advances the run. */
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
  /** Runs one standalone step and writes its "done" entry, or stops waiting when the deadline or the window's close nears. */
  run(ctx: StandaloneContext, m: LoadedMigration, direction: Direction, index: number, step: Step, journal: StepJournal): Promise<StandaloneOutcome>;
}

/** Where a failed statement's ERROR line is when the client could not see it (it ended after its call returned). */
export const ERROR_LOG_HINT = "its ERROR line is in PostgreSQL's log (on Aurora: the cluster's exported `postgresql` log group in CloudWatch Logs)";

/** SQLSTATE classes of errors a rebuild cannot cure: data (22), integrity (23, e.g. duplicate keys), syntax or access (42), unsupported (0A). */
const DETERMINISTIC_CLASSES = new Set(['22', '23', '42', '0A']);

/** Statements PostgreSQL refuses inside a function or transaction block: they run alone, not inside execute_step. */
const NEEDS_OWN_TRANSACTION =
  /\b(concurrently|vacuum|create\s+database|drop\s+database|alter\s+system|create\s+tablespace|drop\s+tablespace|reindex\s+(\(.*\)\s*)?(system|database|schema)|commit|rollback)\b/i;
/** SQLSTATEs of "cannot run inside a transaction block / from a function" (25001) and of transaction control in a function (2D000). */
const OWN_TRANSACTION_SQLSTATES: ReadonlySet<string> = new Set(['25001', '2D000']);

/** The cause of a failed attempt: what PostgreSQL said, or what offpeak found out. */
interface Cause {
  sqlState: string | null;
  message: string;
}

/** A step failure already journaled (with its cause) by this room: the runner adds no `failed` event of its own. */
function journaledFailure(message: string, m: LoadedMigration, direction: Direction, step: number, cause?: Cause): MigrationFailedError {
  return new MigrationFailedError(message, {
    revision: m.revision,
    step,
    direction,
    ...(cause ? { cause: new DatabaseError(cause.message, { sqlState: cause.sqlState ?? undefined }) } : {}),
    context: { file: m.file, journaled: true },
  });
}

export function createStandaloneSteps(options: StandaloneOptions): StandaloneSteps {
  const { client, ledger, lease, emit, now, sleep, backoff, pollIntervalMs, marginMs, lockAttempts, indexBuildAttempts } = options;

  /** 'deadline' or 'window_closed' when either nears (within the margin), else undefined. */
  function stopNear(ctx: StandaloneContext): Exclude<StandaloneOutcome, 'done'> | undefined {
    throwIfInterrupted(ctx);
    const t = now().getTime();
    if (ctx.windowCloses && ctx.windowCloses.getTime() - t < marginMs) return 'window_closed';
    if (ctx.deadline && ctx.deadline.getTime() - t < marginMs) return 'deadline';
    return undefined;
  }

  const where = (m: LoadedMigration, direction: Direction, index: number) => `${m.file} (${m.revision}) ${direction} step ${index + 1}`;

  // ---------------------------------------------------------------- statements other than index builds

  /**
   * A standalone statement other than an index build. Raw SQL that may run inside a function runs inside its
   * own "done" write; the rest run alone, their "done" gated on the step's post-condition.
   */
  async function runStandalone(ctx: StandaloneContext, m: LoadedMigration, direction: Direction, index: number, step: Step, journal: StepJournal): Promise<StandaloneOutcome> {
    const verify = postCondition(step);
    const marker = `/* offpeak step ${m.revision}:${direction}:${index} */ `;
    const doneKey = `done:${ctx.runId}:${m.revision}:${direction}:${index}`;
    const doneEntry = (): JournalEntry => {
      const entry = journal.done();
      return { ...entry, events: (entry.events ?? []).map((e) => (e.status === 'done' && e.step === index ? { ...e, key: e.key ?? doneKey } : e)) };
    };
    let wrapped = step.kind === 'sql' && !NEEDS_OWN_TRANSACTION.test(step.sql);
    const running = () => sql`(${runningExpr(step.sql)} OR ${markedExpr(marker)})`;
    for (let attempt = 1; ; attempt++) {
      // A killed run or an earlier call may have left this very statement running on the server: wait for it
      // first. On the first unit of a call the post-condition rides on this check: a step found done is not rerun.
      let seen: { running: boolean; verified: boolean | null } | undefined;
      if (attempt === 1) {
        const verified = ctx.mayBeRunning && verify ? sql`coalesce((${verify}), false)` : sql`NULL::boolean`;
        seen = await ledger.journal<{ running: boolean; verified: boolean | null }>(client, journal.started, {
          select: sql`SELECT ${running()} AS running, ${verified} AS verified`,
        });
      } else {
        seen = (await client.query<{ running: boolean; verified: boolean | null }>(sql`SELECT ${running()} AS running, NULL::boolean AS verified`)).rows[0];
      }
      if (seen?.running) {
        const waited = await waitWhile(ctx, running());
        if (waited !== 'done') return waited;
        // A killed run's statement run inside its "done" write may have committed it meanwhile.
        if (await ledger.eventExists(doneKey)) return 'done';
        // Its outcome is unknown: the post-condition decides, or the statement (idempotent, as documented) runs again.
        if (verify && (await ledger.journal(client, doneEntry(), { when: verify }))?.ok) return 'done';
      } else if (seen?.verified) {
        await ledger.journal(client, doneEntry());
        return 'done';
      }
      try {
        if (wrapped) return await runInsideDoneWrite(ctx, m, direction, index, step, doneEntry(), marker);
        return await runAlone(ctx, m, direction, index, step, doneEntry, verify);
      } catch (error) {
        // Cancelled by the load guard's lock-queue watch: retried like a lock timeout.
        const state = cancelledForLockQueue(ctx, error) ? '55P03' : sqlStateOf(error);
        if (wrapped && state && OWN_TRANSACTION_SQLSTATES.has(state)) {
          // PostgreSQL will not run it inside a function (nothing of it ran): run it alone.
          wrapped = false;
          attempt--;
          continue;
        }
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

  /** The step's statement and its "done" write as ONE statement (execute_step): `done` commits if and only if the statement succeeded. */
  async function runInsideDoneWrite(ctx: StandaloneContext, m: LoadedMigration, direction: Direction, index: number, step: Step, entry: JournalEntry, marker: string): Promise<StandaloneOutcome> {
    const statement = ledger.journalStatement(entry, { select: sql`SELECT ${ledger.executeStep(step.sql, null)} AS ok` });
    const t0 = now().getTime();
    // The entry's durations were taken before the statement ran: an applied migration's is written again after it.
    const recordDuration = async () => {
      const durations = (entry.applied ?? []).map((a) => ({ revision: a.revision, durationMs: a.durationMs + (now().getTime() - t0) }));
      if (durations.length) await ledger.journal(client, { runId: ctx.runId, durations }).catch(() => undefined);
      return 'done' as const;
    };
    const outcome = await client.executeLong(new SqlQuery([marker, ...statement.parts], statement.hints));
    if (outcome.state === 'done') return await recordDuration();
    const waited = await waitWhile(ctx, markedExpr(marker), outcome.finished);
    if (waited !== 'done') return waited;
    if (outcome.finished) return await recordDuration(); // settled without error (an error was thrown by waitWhile)
    // The Data API cannot say how it ended; the ledger can: the done event commits with the statement.
    const key = entry.events?.find((e) => e.status === 'done')?.key;
    if (key && (await ledger.eventExists(key))) return await recordDuration();
    const message =
      `${where(m, direction, index)} ran past its call and ended without committing (it failed or was cancelled; ${ERROR_LOG_HINT}). ` +
      'Nothing of it was kept: fix the cause and run the same command again';
    await ledger.journal(client, { runId: ctx.runId, events: [{ revision: m.revision, direction, step: index, status: 'failed', error: message }] });
    throw journaledFailure(message, m, direction, index);
  }

  /** The statement alone; "done" gated on the post-condition when its outcome is unknown (or always, for a drop). */
  async function runAlone(ctx: StandaloneContext, m: LoadedMigration, direction: Direction, index: number, step: Step, doneEntry: () => JournalEntry, verify: SqlQuery | undefined): Promise<StandaloneOutcome> {
    const outcome = await client.executeLong(stepSql(step));
    let known = true;
    if (outcome.state === 'still_running') {
      const waited = await waitWhile(ctx, runningExpr(step.sql), outcome.finished);
      if (waited !== 'done') return waited;
      known = outcome.finished !== undefined;
    }
    // A drop is "done" only once the index is gone, whatever the call said: something may have recreated it.
    const gate = step.kind === 'drop_index' || !known ? verify : undefined;
    if (!known && !gate) {
      const message =
        `${where(m, direction, index)} ran past its call and ended, and nothing can tell whether it succeeded (the Data API does not ` +
        "report a statement's outcome after its call returned). Check its effect by hand; then add `verify: 'SELECT …'` to the step " +
        '(one row, true when done; not part of the checksum) and run the same command again, or `offpeak stamp` past it';
      await ledger.journal(client, { runId: ctx.runId, events: [{ revision: m.revision, direction, step: index, status: 'unknown', error: message }] });
      throw journaledFailure(message, m, direction, index);
    }
    if ((await ledger.journal(client, doneEntry(), gate ? { when: gate } : {}))?.ok) return 'done';
    const message =
      step.kind === 'drop_index'
        ? `${where(m, direction, index)}: the drop ended but index ${qualified(step.index.schema, step.index.name)} is still there ` +
          `(it failed after the call returned, or something recreated it; ${ERROR_LOG_HINT}); run again to retry`
        : `${where(m, direction, index)} ran past its call and ended, but its verify query says it is not done (it failed or was cancelled; ` +
          `${ERROR_LOG_HINT}); fix the cause and run the same command again`;
    await ledger.journal(client, { runId: ctx.runId, events: [{ revision: m.revision, direction, step: index, status: 'failed', error: message }] });
    throw journaledFailure(message, m, direction, index);
  }

  /**
   * Waits while `running` (a boolean SQL expression) holds; stops when the deadline or the window's close nears
   * first. With `finished` (the client still holds the statement), wakes as soon as it ends and throws the
   * statement's error, if any.
   */
  async function waitWhile(ctx: StandaloneContext, running: SqlQuery, finished?: Promise<void>): Promise<StandaloneOutcome> {
    for (;;) {
      const { rows } = await client.query<{ running: boolean }>(sql`SELECT ${running} AS running`);
      if (!rows[0]?.running) break;
      const stop = stopNear(ctx);
      if (stop) return stop;
      await pause(finished);
    }
    await finished;
    return 'done';
  }

  /** The poll interval, cut short when `finished` settles. */
  async function pause(finished: Promise<void> | undefined): Promise<void> {
    await (finished ? Promise.race([sleep(pollIntervalMs), finished.catch(() => undefined)]) : sleep(pollIntervalMs));
  }

  // ---------------------------------------------------------------- index builds

  interface IndexState {
    exists: boolean;
    valid: boolean;
    running: boolean;
    /** A `DROP INDEX CONCURRENTLY` of it runs (an earlier call's, stopped at its deadline). */
    dropping: boolean;
    phase: string | null;
    blocks_done: number | null;
    blocks_total: number | null;
    tuples_done: number | null;
    tuples_total: number | null;
  }

  const dropStatement = (step: CreateIndexStep) => new SqlQuery([`DROP INDEX CONCURRENTLY IF EXISTS ${qualified(step.index.schema, step.index.name)}`]);

  function indexStateQuery(step: CreateIndexStep): SqlQuery {
    return sql`
      SELECT c.oid IS NOT NULL AS exists, coalesce(i.indisvalid, false) AS valid,
             (p.pid IS NOT NULL OR ${runningExpr(step.sql)}) AS running, ${runningExpr(dropStatement(step).toString())} AS dropping,
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

  /** Drops the INVALID index; stops waiting for the drop when the deadline or the window's close nears (the next call waits for it). */
  async function dropInvalid(ctx: StandaloneContext, m: LoadedMigration, index: number, step: CreateIndexStep): Promise<StandaloneOutcome> {
    const drop = dropStatement(step);
    const outcome = await client.executeLong(drop);
    if (outcome.state === 'still_running') {
      const waited = await waitWhile(ctx, runningExpr(drop.toString()), outcome.finished);
      if (waited !== 'done') return waited;
    }
    emit({ event: 'invalid_index_dropped', runId: ctx.runId, revision: m.revision, step: index, index: step.index.name });
    return 'done';
  }

  /**
   * Polls until no session builds the index; stops when the deadline or the window's close nears first.
   * With `finished` (the client still holds this run's build), throws the build's error once it ends, as a
   * build that failed in the call would have.
   */
  async function pollBuild(ctx: StandaloneContext, m: LoadedMigration, index: number, step: CreateIndexStep, finished?: Promise<void>): Promise<IndexState | Exclude<StandaloneOutcome, 'done'>> {
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
      const stop = stopNear(ctx);
      if (stop) return stop;
      await lease.renew();
      await pause(finished);
    }
  }

  /**
   * For a unique index left INVALID (still in the catalog): one duplicate key, found with one GROUP BY over
   * the index's own key expressions and predicate, read from the catalog. Undefined when none is found or
   * the query fails (e.g. past the Data API's statement timeout on a big table); `query` is what to run by hand.
   */
  async function findDuplicate(step: CreateIndexStep): Promise<{ key?: string; query?: string }> {
    const { rows } = await client.query<{ keys: string[] | null; pred: string | null; tbl: string }>(sql`
      SELECT (SELECT array_agg(pg_get_indexdef(i.indexrelid, k, true) ORDER BY k) FROM generate_series(1, i.indnkeyatts::int) AS k) AS keys,
             pg_get_expr(i.indpred, i.indrelid, true) AS pred, i.indrelid::regclass::text AS tbl
      FROM pg_index i WHERE i.indexrelid = to_regclass(${qualified(step.index.schema, step.index.name)})`);
    const def = rows[0];
    if (!def?.keys?.length) return {};
    // Catalog text (the server's own rendering of the index), not user input.
    const keys = def.keys.map((k) => `(${k})`);
    const conditions = [...keys.map((k) => `${k} IS NOT NULL`), ...(def.pred ? [`(${def.pred})`] : [])];
    const query =
      `SELECT ${keys.map((k) => `${k}::text`).join(', ')} FROM ${def.tbl} WHERE ${conditions.join(' AND ')} ` +
      `GROUP BY ${keys.join(', ')} HAVING count(*) > 1 LIMIT 1`;
    const found = await client.query<Record<string, string>>(new SqlQuery([query])).catch(() => undefined);
    const row = found?.rows[0];
    if (!row) return { query };
    return { key: `Key (${def.keys.join(', ')})=(${Object.values(row).join(', ')}) is duplicated`, query };
  }

  /** Why an attempt left no valid index: the error when the client saw it, else what the catalog and the table tell. */
  async function causeOf(step: CreateIndexStep, error: unknown, state: IndexState | undefined): Promise<Cause> {
    if (error !== undefined) {
      let message = errorText(error);
      const detail = (error as { cause?: { detail?: unknown } }).cause?.detail;
      if (typeof detail === 'string' && !message.includes(detail)) message += ` (${detail})`;
      const sqlState = sqlStateOf(error) ?? null;
      if (sqlState === '23505' && step.index.unique && !/is duplicated/.test(message) && state?.exists) {
        const dup = await findDuplicate(step);
        if (dup.key) message += ` (${dup.key})`;
      }
      return { sqlState, message };
    }
    if (!state?.exists) return { sqlState: null, message: `the build left no index (${ERROR_LOG_HINT})` };
    if (step.index.unique) {
      const dup = await findDuplicate(step);
      if (dup.key) return { sqlState: '23505', message: `could not create unique index "${step.index.name}": ${dup.key} (found by offpeak after the build ended past its call)` };
      return {
        sqlState: null,
        message: `the index is INVALID after the build ended past its call; ${ERROR_LOG_HINT}${dup.query ? `; duplicate keys, if any, show with: ${dup.query}` : ''}`,
      };
    }
    return { sqlState: null, message: `the index is INVALID after the build ended past its call; ${ERROR_LOG_HINT}` };
  }

  /** Whether another build could cure the cause (lock timeouts, deadlocks, cancels, unknown causes), not duplicates or bad SQL. */
  const mayRetry = (cause: Cause) => !cause.sqlState || !DETERMINISTIC_CLASSES.has(cause.sqlState.slice(0, 2));

  /**
   * Builds the step's index and writes its "done" journal entry, or stops waiting when the deadline or the
   * window's close nears. Unless the step may already be running (`ctx.mayBeRunning`), the first build goes
   * ahead without a look at the catalog: `IF NOT EXISTS` makes it a no-op when the index is already there, and
   * the "done" write right after it is gated on the index being valid. Only when that gate fails (an INVALID
   * leftover) does the runner look, drop and rebuild. So a build costs its statement + 2 round trips
   * (`started`, `done`).
   */
  async function buildIndex(ctx: StandaloneContext, m: LoadedMigration, direction: Direction, index: number, step: CreateIndexStep, journal: StepJournal): Promise<StandaloneOutcome> {
    const key = (attempt: number, status: 'started' | 'failed') => buildEventKey(ctx.runId, m.revision, direction, index, attempt, status);
    // Never reached before in this run unless it is the call's first unit: no attempts to read then.
    const attempts = ctx.mayBeRunning ? await ledger.buildAttempts(ctx.runId, m.revision, direction, index) : { started: 0, failed: 0, spent: 0, lastError: null, lastSqlState: null };
    let failed = attempts.failed;
    let spent = attempts.spent;
    /** An attempt was started (journaled) and has no outcome yet: an INVALID index found now is its failure. */
    let pending = attempts.started > attempts.failed;
    let look = ctx.mayBeRunning;
    /** The done entry; with `attempt`, a build this call saw run (started, or polled while running) also leaves a calibration sample. */
    const doneEntry = (attempt?: number): JournalEntry =>
      attempt === undefined
        ? journal.done()
        : { ...journal.done(), buildSample: { schema: step.index.schema, index: step.index.name, table: step.index.table, startedKey: key(attempt, 'started') } };
    const done = async (attempt?: number) => {
      await ledger.journal(client, doneEntry(attempt));
      return 'done' as const;
    };

    /** Journals the pending attempt's failure; throws when the budget is spent or no rebuild can cure it. */
    const recordFailure = async (cause: Cause) => {
      failed++;
      spent++;
      pending = false;
      await ledger.journal(client, {
        runId: ctx.runId,
        events: [{ revision: m.revision, direction, step: index, status: 'failed', error: cause.message, sqlState: cause.sqlState, key: key(failed, 'failed') }],
      });
      const last = spent >= indexBuildAttempts || !mayRetry(cause);
      if (!last) {
        emit({ event: 'index_build_retry', runId: ctx.runId, revision: m.revision, step: index, index: step.index.name, attempt: spent + 1, reason: `${cause.sqlState ? `${cause.sqlState}: ` : ''}${cause.message}` });
        return;
      }
      // The INVALID index costs on every write: never leave it behind (best effort, within the deadline; a drop still
      // running then is waited for by the next run, and a leftover is dropped by it).
      const left = await stateAfterFailure(step);
      if (left?.exists && !left.valid && !left.running) await dropInvalid(ctx, m, index, step).catch(() => undefined);
      const after = spent >= indexBuildAttempts ? `after ${spent} attempt${spent === 1 ? '' : 's'}` : `(attempt ${spent}; another build would fail the same way)`;
      throw journaledFailure(
        `${m.file} (${m.revision}): index ${step.index.schema}.${step.index.name} could not be built ${after}: ${cause.sqlState ? `${cause.sqlState} ` : ''}${cause.message}`,
        m,
        direction,
        index,
        cause,
      );
    };

    if (spent >= indexBuildAttempts && !pending) {
      // The budget was spent by an earlier call, killed before it failed the run: fail it now with the last cause.
      const cause = { sqlState: attempts.lastSqlState, message: attempts.lastError ?? 'the build failed' };
      throw journaledFailure(`${m.file} (${m.revision}): index ${step.index.schema}.${step.index.name} could not be built after ${spent} attempts: ${cause.message}`, m, direction, index, cause);
    }

    for (;;) {
      throwIfInterrupted(ctx);
      if (look) {
        let state = await indexState(step);
        if (state.dropping) {
          // An earlier call's drop of the INVALID index, stopped at its deadline: wait for it rather than queue another.
          const waited = await waitWhile(ctx, runningExpr(dropStatement(step).toString()));
          if (waited !== 'done') return waited;
          emit({ event: 'invalid_index_dropped', runId: ctx.runId, revision: m.revision, step: index, index: step.index.name });
          state = await indexState(step);
        }
        // A build seen running is this run's latest started attempt: its time from that event is a sample.
        const sampled = state.running && pending ? failed + 1 : undefined;
        if (state.running) {
          const polled = await pollBuild(ctx, m, index, step);
          if (typeof polled === 'string') return polled;
          state = polled;
        }
        if (state.exists && state.valid) return await done(sampled);
        if (pending && state.exists) await recordFailure(await causeOf(step, undefined, state));
        if (state.exists) {
          const dropped = await dropInvalid(ctx, m, index, step);
          if (dropped !== 'done') return dropped;
        }
      }
      const attempt = failed + 1;
      // Before the build, so a build that outlives this call (or the process) is known to be this run's attempt.
      await ledger.journal(client, { runId: ctx.runId, events: [{ revision: m.revision, direction, step: index, status: 'started', key: key(attempt, 'started') }] });
      pending = true;
      let state: IndexState | undefined;
      let error: unknown;
      try {
        const outcome: LongStatementOutcome = await client.executeLong(stepSql(step));
        if (outcome.state === 'still_running') {
          const polled = await pollBuild(ctx, m, index, step, outcome.finished);
          if (typeof polled === 'string') return polled;
          state = polled;
        } else {
          // "done" only if the build left a valid index, in the same statement; otherwise look at what it left.
          // Its commit need not wait for the disk: were it lost in a server crash, the resumed run's build is
          // a no-op (IF NOT EXISTS) and this write happens again.
          if ((await ledger.journal(client, doneEntry(attempt), { when: indexValid(step), asyncCommit: true }))?.ok) return 'done';
          state = await indexState(step);
          if (!look) {
            // The unlooked build met an index already there (IF NOT EXISTS skipped it): that was no build.
            // Look (wait for it, or drop the stray INVALID leftover) and build, still as this attempt.
            pending = false;
            look = true;
            continue;
          }
        }
      } catch (failure) {
        // A transport fault (a lost response, the database resuming) says nothing of the build, which may run
        // on: not an attempt's failure. The caller retries the step, which looks at the catalog first.
        if (!(failure instanceof DatabaseError)) throw failure;
        error = failure;
        state = await stateAfterFailure(step);
      }
      if (state?.exists && state.valid) return await done(error === undefined ? attempt : undefined);
      // A build cancelled by an interrupt is no failure of the build: the next run looks and builds again.
      throwIfInterrupted(ctx);
      look = true;
      await recordFailure(await causeOf(step, error, state));
      if (state?.exists && !state.valid && !state.running) {
        const dropped = await dropInvalid(ctx, m, index, step);
        if (dropped !== 'done') return dropped;
      }
      await sleep(Math.round(backoff(spent)));
    }
  }

  return {
    run: (ctx, m, direction, index, step, journal) =>
      step.kind === 'create_index' ? buildIndex(ctx, m, direction, index, step, journal) : runStandalone(ctx, m, direction, index, step, journal),
  };
}

/** The step's post-condition, true when its work is done: built in for index drops, declared (`verify`) on raw SQL steps. */
function postCondition(step: Step): SqlQuery | undefined {
  if (step.kind === 'drop_index') return sql`to_regclass(${qualified(step.index.schema, step.index.name)}) IS NULL`;
  if (step.kind === 'sql' && step.verify) return new SqlQuery([`(${step.verify})`]);
  return undefined;
}

/**
 * Matches a statement in pg_stat_activity, allowing for track_activity_query_size truncation. Only in this
 * database: the view covers the whole server, where another database may run the very same migration.
 */
function runningExpr(text: string): SqlQuery {
  return sql`EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid() AND a.state = 'active' AND a.datname = current_database()
    AND (a.query = ${text} OR (length(a.query) >= 1000 AND starts_with(${text}, a.query))))`;
}

/** Matches a statement that starts with `marker` (a step run inside its "done" write) in pg_stat_activity, in this database. */
function markedExpr(marker: string): SqlQuery {
  return sql`EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid() AND a.state = 'active' AND a.datname = current_database()
    AND starts_with(a.query, ${marker}))`;
}

/** A schema-qualified, quoted name. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * The transactional unit: a migration whose steps are all transactional (or one transactional step of a
 * mixed migration) runs in ONE transaction together with its bookkeeping.
 *
 * - The bookkeeping write and the first step are one statement (the write calls the ledger's
 *   `execute_step`, which first sets the transaction's lock_timeout when a step takes a strong lock), so the
 *   cost is BEGIN + steps + COMMIT, and a single-step unit is that one statement, atomic without BEGIN/COMMIT.
 * - The whole is retried with exponential backoff on lock timeouts (LOCK_RETRY_SQLSTATES), up to
 *   `lockAttempts`; any other error fails the step (MigrationFailedError).
 * - Step and migration durations are not known when the bookkeeping is written: done events carry none, and
 *   the applied row's duration_ms is rewritten by the advance call's final ledger write (`call.durations`).
 * - A transport fault (lost response, resuming database) is not a step failure: it is rethrown as is, and the
 *   advance loop reconciles it from the ledger (fault-reconcile.ts).
 *
 * Time budget (with a deadline; `statementTimeoutMs` is the transport's limit on one statement, 45 s on the
 * Data API, 0 on pg and PGlite):
 * - The unit starts only when `deadline − now ≥ statements × statementTimeoutMs + marginMs`; otherwise the
 *   call stops before it ('deadline') and the next call runs it first. The FIRST unit of a call always starts:
 *   it has the whole call, and a unit bigger than the rule allows would otherwise never run.
 * - Between statements, the next one starts only before the deadline; past it the transaction is rolled back,
 *   with its bookkeeping, rather than be killed with its locks held. (The deadline keeps one call's time before
 *   the process's end: the Lambda handlers pass the invocation's end minus 75 s, the longest Data API call.) A later unit of the call then stops ('deadline'); the first unit of a call, which had the
 *   whole call and still did not fit, fails the run: split the migration, or move the long statement to a
 *   standalone step with a `verify`.
 */
import type { SqlExecutor } from '../db/client.ts';
import { isTransportFault } from '../db/data-api-errors.ts';
import { LOCK_RETRY_SQLSTATES, sqlStateOf } from '../db/sqlstate.ts';
import { sql } from '../db/sql.ts';
import { MigrationFailedError } from '../errors.ts';
import type { StepEvent } from './ledger.ts';
import type { LoadedMigration, Step } from './model.ts';
import type { PlanUnit } from './planner.ts';
import { cancelledForLockQueue } from './load-guard.ts';
import { conditionMet, failStep, finishEntry, skipReason, type CallContext, type RunContext } from './run-context.ts';
import { stepSql, throwIfInterrupted } from './standalone.ts';

export interface TransactionalUnit {
  unit: PlanUnit;
  /** The plan position of the unit; its bookkeeping moves the run past it. */
  position: number;
  migration: LoadedMigration;
  steps: Array<{ index: number; step: Step }>;
  /** The unit finishes its migration (records it applied, or removes it going down). */
  isLast: boolean;
  /** When the migration's first step started (injected clock), for a unit that is one step of several. */
  migrationStart?: number;
}

/** Thrown inside the transaction when the next statement would not end by the deadline: rolls it back. */
class OutOfTime extends Error {
  constructor(
    readonly step: number,
    readonly leftMs: number,
  ) {
    super('out of time before the deadline');
  }
}

/** Milliseconds left before the call's deadline (Infinity without one). */
const timeLeft = (rc: RunContext, call: CallContext) => (call.deadline ? call.deadline.getTime() - rc.nowMs() : Number.POSITIVE_INFINITY);

export async function runTransactionalUnit(rc: RunContext, call: CallContext, tu: TransactionalUnit): Promise<'done' | 'deadline'> {
  const { client, ledger, emit, nowMs } = rc;
  const { runId } = call;
  const { unit, position, migration: m, steps, isLast } = tu;
  const met = new Map<number, boolean>();
  for (const { index, step } of steps) met.set(index, await conditionMet(rc, call, step));
  const strong = steps.some(({ step, index }) => met.get(index) && step.lock === 'strong');
  const metSteps = steps.filter(({ index }) => met.get(index));
  const firstOfCall = position === call.firstPosition;
  const neededMs = Math.max(1, metSteps.length) * rc.statementTimeoutMs + rc.marginMs;
  // Through the Data API the transaction carries the run's application_name (SET LOCAL, riding on the first
  // statement, evaluated before the step): the lease's proof that this run may still hold locks.
  const tag = rc.applicationName ? sql`set_config('application_name', ${rc.applicationName}, true) AS app, ` : sql``;
  for (let attempt = 1; ; attempt++) {
    let current = steps[0]?.index ?? -1; // a merge migration may have no steps: only its bookkeeping runs
    const leftMs = timeLeft(rc, call);
    if (!firstOfCall && leftMs < neededMs) {
      emit({ event: 'time_budget_stop', runId, revision: m.revision, step: current, reason: 'not_started', neededMs, leftMs });
      return 'deadline';
    }
    const started = nowMs();
    try {
      const durations = new Map<number, number>();
      const apply = async (executor: SqlExecutor) => {
        const events: StepEvent[] = steps.map(({ index, step }) =>
          met.get(index)
            ? { revision: m.revision, direction: unit.direction, step: index, status: 'done' }
            : { revision: m.revision, direction: unit.direction, step: index, status: 'skipped', error: skipReason(step) },
        );
        const [first, ...rest] = metSteps;
        const lockTimeout = strong ? `${Math.max(1, Math.round(rc.lockTimeoutMs))}ms` : null;
        if (first) {
          current = first.index;
          emit({ event: 'step_started', runId, revision: m.revision, direction: unit.direction, step: first.index, description: first.step.description, mode: 'transactional' });
        }
        const t0 = nowMs();
        await ledger.journal(
          executor,
          { runId, events, ...(isLast ? finishEntry(rc, unit, 0) : {}), run: { position: position + 1 } },
          first ? { select: sql`SELECT ${tag}${ledger.executeStep(first.step.sql, lockTimeout)} AS ok` } : {},
        );
        if (first) durations.set(first.index, nowMs() - t0);
        for (const { index, step } of rest) {
          current = index;
          throwIfInterrupted(call, `${m.revision} ${unit.direction} step ${index + 1} (${step.description})`);
          const left = timeLeft(rc, call);
          if (left <= 0) throw new OutOfTime(index, left);
          emit({ event: 'step_started', runId, revision: m.revision, direction: unit.direction, step: index, description: step.description, mode: 'transactional' });
          const t1 = nowMs();
          await executor.query(stepSql(step));
          durations.set(index, nowMs() - t1);
        }
        // Last look before COMMIT: an interrupt now rolls the whole unit back. (On PGlite the statements ran on
        // this thread: let a signal that arrived meanwhile be handled first.)
        if (call.signal) await new Promise<void>((resolve) => setImmediate(resolve));
        throwIfInterrupted(call, `${m.revision} ${unit.direction} (${m.description}), before its commit`);
      };
      // One statement is atomic on its own: a migration with a single step runs without BEGIN/COMMIT.
      if (metSteps.length <= 1) await apply(client);
      else await client.transaction(apply);
      for (const { index, step } of steps) {
        if (!met.get(index)) emit({ event: 'step_skipped', runId, revision: m.revision, direction: unit.direction, step: index, reason: skipReason(step) });
        else emit({ event: 'step_done', runId, revision: m.revision, direction: unit.direction, step: index, durationMs: durations.get(index) ?? 0 });
      }
      // A migration's duration runs from its first step's start (an earlier unit, perhaps an earlier call) to now.
      const durationMs = nowMs() - (unit.kind === 'step' && tu.migrationStart !== undefined ? Math.min(tu.migrationStart, started) : started);
      if (isLast && unit.direction === 'up') call.durations.push({ revision: m.revision, durationMs });
      if (isLast) emit({ event: 'migration_done', runId, revision: m.revision, direction: unit.direction, durationMs });
      return 'done';
    } catch (error) {
      if (error instanceof OutOfTime) return await outOfTime(rc, call, tu, error, firstOfCall);
      if (isTransportFault(error)) throw error;
      // Cancelled by the load guard's lock-queue watch: retried like a lock timeout.
      const state = cancelledForLockQueue(call, error) ? '55P03' : sqlStateOf(error);
      if (state && LOCK_RETRY_SQLSTATES.has(state) && attempt < rc.lockAttempts) {
        const delayMs = Math.round(rc.backoff(attempt));
        emit({ event: 'lock_timeout_retry', runId, revision: m.revision, direction: unit.direction, step: current, attempt, delayMs });
        await rc.sleep(delayMs);
        continue;
      }
      // Cancelled or rolled back on an interrupt: not the step's failure (the runner reports the interrupt).
      if (call.signal?.aborted) throw error;
      throw await failStep(rc, runId, m, unit.direction, current, error);
    }
  }
}

/**
 * The transaction was rolled back before `error.step` for lack of time. A later unit of the call stops the
 * call ('deadline': the next call runs it first, with the whole call before it); the call's first unit had
 * that already, so it fails the run with what to do.
 */
async function outOfTime(rc: RunContext, call: CallContext, tu: TransactionalUnit, error: OutOfTime, firstOfCall: boolean): Promise<'deadline'> {
  const { migration: m, unit } = tu;
  rc.emit({ event: 'time_budget_stop', runId: call.runId, revision: m.revision, step: error.step, reason: 'rolled_back', neededMs: rc.statementTimeoutMs, leftMs: error.leftMs });
  if (!firstOfCall) return 'deadline';
  const cause = new MigrationFailedError(
    `${m.file} (${m.revision}) ${unit.direction}: its transaction was rolled back before step ${error.step + 1}: the steps do not fit in one call ` +
      `before its deadline${rc.statementTimeoutMs ? ` (each statement may take up to the ${Math.round(rc.statementTimeoutMs / 1000)} s statement timeout)` : ''}. ` +
      'Split the migration, or move its long statement to a standalone step with a `verify` post-condition',
    { revision: m.revision, step: error.step, direction: unit.direction, context: { file: m.file, leftMs: error.leftMs } },
  );
  throw await failStep(rc, call.runId, m, unit.direction, error.step, cause);
}

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
 */
import type { SqlExecutor } from '../db/client.ts';
import { LOCK_RETRY_SQLSTATES, sqlStateOf } from '../db/sqlstate.ts';
import { sql } from '../db/sql.ts';
import type { StepEvent } from './ledger.ts';
import type { LoadedMigration, Step } from './model.ts';
import type { PlanUnit } from './planner.ts';
import { conditionMet, failStep, finishEntry, skipReason, type CallContext, type RunContext } from './run-context.ts';
import { stepSql } from './standalone.ts';

export interface TransactionalUnit {
  unit: PlanUnit;
  /** The plan position of the unit; its bookkeeping moves the run past it. */
  position: number;
  migration: LoadedMigration;
  steps: Array<{ index: number; step: Step }>;
  /** The unit finishes its migration (records it applied, or removes it going down). */
  isLast: boolean;
}

export async function runTransactionalUnit(rc: RunContext, call: CallContext, tu: TransactionalUnit): Promise<'done'> {
  const { client, ledger, emit, nowMs } = rc;
  const { runId } = call;
  const { unit, position, migration: m, steps, isLast } = tu;
  const met = new Map<number, boolean>();
  for (const { index, step } of steps) met.set(index, await conditionMet(rc, call, step));
  const strong = steps.some(({ step, index }) => met.get(index) && step.lock === 'strong');
  for (let attempt = 1; ; attempt++) {
    let current = steps[0]!.index;
    const started = nowMs();
    try {
      const durations = new Map<number, number>();
      const metSteps = steps.filter(({ index }) => met.get(index));
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
          first ? { select: sql`SELECT ${ledger.executeStep(first.step.sql, lockTimeout)} AS ok` } : {},
        );
        if (first) durations.set(first.index, nowMs() - t0);
        for (const { index, step } of rest) {
          current = index;
          emit({ event: 'step_started', runId, revision: m.revision, direction: unit.direction, step: index, description: step.description, mode: 'transactional' });
          const t1 = nowMs();
          await executor.query(stepSql(step));
          durations.set(index, nowMs() - t1);
        }
      };
      // One statement is atomic on its own: a migration with a single step runs without BEGIN/COMMIT.
      if (metSteps.length <= 1) await apply(client);
      else await client.transaction(apply);
      for (const { index, step } of steps) {
        if (!met.get(index)) emit({ event: 'step_skipped', runId, revision: m.revision, direction: unit.direction, step: index, reason: skipReason(step) });
        else emit({ event: 'step_done', runId, revision: m.revision, direction: unit.direction, step: index, durationMs: durations.get(index) ?? 0 });
      }
      const durationMs = nowMs() - started;
      if (isLast && unit.direction === 'up') call.durations.push({ revision: m.revision, durationMs });
      if (isLast) emit({ event: 'migration_done', runId, revision: m.revision, direction: unit.direction, durationMs });
      return 'done';
    } catch (error) {
      const state = sqlStateOf(error);
      if (state && LOCK_RETRY_SQLSTATES.has(state) && attempt < rc.lockAttempts) {
        const delayMs = Math.round(rc.backoff(attempt));
        emit({ event: 'lock_timeout_retry', runId, revision: m.revision, direction: unit.direction, step: current, attempt, delayMs });
        await rc.sleep(delayMs);
        continue;
      }
      throw await failStep(rc, runId, m, unit.direction, current, error);
    }
  }
}

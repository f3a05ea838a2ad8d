/**
 * Plans and runs: `startRun` plans against the ledger and stores the plan as a run, or resumes the
 * unfinished run for the same direction and target when its migrations are unchanged. The stored plan is
 * read back through a schema (`parseStoredPlan`): a plan written by another offpeak version, or edited by
 * hand, is an error that says so, never a cast.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { MigrationGraphError } from '../errors.ts';
import type { Direction, RunRow } from './ledger.ts';
import { buildPlan, type LedgerState, type Plan } from './planner.ts';
import type { RunContext } from './run-context.ts';

const direction = z.enum(['up', 'down']);

const planUnit = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('migration'), revision: z.string(), direction, checksum: z.string() }),
  z.object({ kind: z.literal('step'), revision: z.string(), direction, checksum: z.string(), step: z.number().int().nonnegative(), last: z.boolean() }),
  z.object({ kind: z.literal('record'), revision: z.string(), direction: z.literal('up'), checksum: z.string(), reason: z.enum(['adoption', 'squash']) }),
]);

const storedPlan = z.object({
  version: z.literal(1),
  direction,
  target: z.string(),
  units: z.array(planUnit),
  runId: z.string().optional(),
});

/** The plan a run stored, validated. Throws MigrationGraphError naming the run and what is wrong. */
export function parseStoredPlan(run: Pick<RunRow, 'runId' | 'plan'>): Plan {
  const parsed = storedPlan.safeParse(run.plan);
  if (!parsed.success) {
    const problem = parsed.error.issues.map((i) => `${i.path.join('.') || '(plan)'}: ${i.message}`).slice(0, 3).join('; ');
    throw new MigrationGraphError(
      `run ${run.runId}: its stored plan is not one this offpeak can read (${problem}); abandon it (offpeak runs abandon ${run.runId}) and start a new run`,
      { context: { runId: run.runId } },
    );
  }
  const { version, direction: d, target, units } = parsed.data;
  return { version, direction: d, target, units };
}

/** True when every migration in the plan still has the checksum it had when the plan was made. */
export function sameMigrations(rc: RunContext, plan: Plan): boolean {
  return plan.units.every((u) => rc.graph.all.get(u.revision)?.checksum === u.checksum);
}

export interface StartedRun {
  runId: string;
  plan: Plan;
  resumed: boolean;
}

/**
 * Resumes the latest unfinished run when it has the same direction and target and its migrations are
 * unchanged; otherwise abandons it and stores a new plan made from `state`. Call it holding the lease.
 */
export async function startRun(rc: RunContext, state: LedgerState, dir: Direction, target: string): Promise<StartedRun> {
  const { ledger, emit } = rc;
  const latest = await ledger.latestUnfinishedRun();
  if (latest) {
    const stored = latest.direction === dir && latest.target === target ? parseStoredPlan(latest) : undefined;
    if (stored && sameMigrations(rc, stored)) {
      // Resuming a failed run (its cause fixed, presumably) starts budgets counted from the ledger afresh.
      if (latest.status === 'failed') await ledger.markResumed(latest.runId);
      await ledger.setRunStatus(latest.runId, 'in_progress', latest.error);
      emit({ event: 'run_started', runId: latest.runId, direction: dir, target, units: stored.units.length, resumed: true });
      return { runId: latest.runId, plan: stored, resumed: true };
    }
    await ledger.setRunStatus(latest.runId, 'abandoned', `superseded by a new ${dir} ${target} run`);
  }
  const plan = buildPlan(rc.graph, state, dir, target);
  const runId = randomUUID();
  await ledger.createRun({ runId, target, direction: dir, plan: { ...plan, runId }, actor: rc.actor });
  emit({ event: 'run_started', runId, direction: dir, target, units: plan.units.length, resumed: false });
  return { runId, plan, resumed: false };
}

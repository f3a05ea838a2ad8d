/**
 * The runner's two plan-proof hooks (plan-proof.ts does the work): kept here so runner.ts carries one line each.
 * Neither ever fails a run: a migration is applied when they run, so what they find is reported, not thrown.
 */
import type { Direction } from './ledger.ts';
import type { LoadedMigration } from './model.ts';
import { measureBefore, provePlans, timeoutFor, type PlanCheck } from './plan-proof.ts';
import type { Plan } from './planner.ts';
import type { RunContext } from './run-context.ts';

export interface RunPlanProof {
  checks: PlanCheck[];
  /** Set when the proof itself could not be completed or recorded (the run still succeeds). */
  error?: string | undefined;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Before a migration's first unit going up: EXPLAIN ANALYZE its `measure` expectations (once per run). */
export async function beforeMigrationPlanProof(rc: RunContext, runId: string, direction: Direction, m: LoadedMigration): Promise<void> {
  if (direction !== 'up' || !m.expect.some((e) => e.measure)) return;
  try {
    await measureBefore(rc.client, rc.ledger, runId, m);
  } catch (error) {
    rc.emit({ event: 'plan_proof_failed', runId, revision: m.revision, phase: 'before', error: message(error) });
  }
}

/** After a run going up is verified: checks the expectations of every migration its plan ran. */
export async function afterRunPlanProof(rc: RunContext, runId: string, direction: Direction, plan: Plan, deadline?: Date): Promise<RunPlanProof | undefined> {
  if (direction !== 'up') return undefined;
  const revisions = [...new Set(plan.units.filter((u) => u.kind !== 'record').map((u) => u.revision))];
  const migrations = revisions.map((r) => rc.graph.get(r)).filter((m) => m.expect.length > 0);
  if (migrations.length === 0) return undefined;
  try {
    // A measurement may take the whole statement timeout: none starts within that (and the margin) of the deadline.
    const measureWhile = deadline ? () => deadline.getTime() - rc.nowMs() > timeoutFor(rc.client) + rc.marginMs : undefined;
    const { checks } = await provePlans(rc.client, rc.ledger, runId, migrations, measureWhile);
    for (const c of checks) rc.emit({ event: 'plan_checked', runId, revision: c.revision, name: c.name, index: c.index, outcome: c.outcome });
    return { checks };
  } catch (error) {
    rc.emit({ event: 'plan_proof_failed', runId, revision: null, phase: 'after', error: message(error) });
    return { checks: [], error: `plan proof could not complete: ${message(error)}` };
  }
}

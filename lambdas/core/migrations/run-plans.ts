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
import { buildPlan, type LedgerState, type Plan, type PlanUnit } from './planner.ts';
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

export interface StartOptions {
  /** Abandon every unfinished run first (`--restart`) instead of resuming one. */
  restart?: boolean;
}

const unitKey = (u: PlanUnit) => `${u.kind}:${u.revision}:${u.direction}:${u.kind === 'step' ? u.step : ''}:${u.kind === 'record' ? u.reason : ''}`;

/** `+N` and `-N` mean "from where the run started"; `head`, `heads`, `base` and revisions mean "now". */
const isRelative = (target: string) => /^[+-]\d+$/.test(target);

/**
 * The graph nodes a stored plan changes, in order: what a relative target meant when the run started.
 * (Originals run to finish a partly applied squash stand for the squash; adoption records for nothing.)
 */
function planNodes(rc: RunContext, plan: Plan): string[] {
  const nodes: string[] = [];
  for (const u of plan.units) {
    if (u.kind === 'record' && u.reason === 'adoption') continue;
    const node = rc.graph.replacedBy.get(u.revision) ?? u.revision;
    if (!nodes.includes(node)) nodes.push(node);
  }
  return nodes;
}

/**
 * Keys of the standalone steps this run's journal shows done or skipped, in migrations whose last step it
 * has not finished: what a re-plan must not run again.
 */
async function passedSteps(rc: RunContext, runId: string): Promise<Set<string>> {
  const byMigration = new Map<string, Set<number>>();
  for (const e of await rc.ledger.events(runId)) {
    if (e.step < 0 || (e.status !== 'done' && e.status !== 'skipped')) continue;
    const key = `${e.revision}:${e.direction}`;
    byMigration.set(key, (byMigration.get(key) ?? new Set()).add(e.step));
  }
  const passed = new Set<string>();
  for (const [key, steps] of byMigration) {
    const [revision, direction] = key.split(':') as [string, Direction];
    const m = rc.graph.all.get(revision);
    if (!m) continue;
    const count = (direction === 'up' ? m.up : m.down).length;
    if (steps.has(count - 1)) continue; // finished in this run: if it must run again, it runs whole
    for (const step of steps) passed.add(unitKey({ kind: 'step', revision, direction, checksum: m.checksum, step, last: step === count - 1 }));
  }
  return passed;
}

export interface ReconciledRun {
  plan: Plan;
  position: number;
  /** Why the run was re-planned, when it was. */
  replanned?: string;
}

/**
 * Checks a resumable run's remaining plan against the plan the ledger and the target call for now, and
 * re-plans when they differ: the ledger moved (a stamp, another run, a hand edit) or the target did (a new
 * migration under `head`). Relative targets keep their meaning from the run's start. Standalone steps this
 * run already passed in a migration it has not finished are not planned again; the journal stays as it is.
 * Call it holding the lease, after checking the plan's migrations are unchanged.
 */
export async function reconcileRun(rc: RunContext, state: LedgerState, run: RunRow): Promise<ReconciledRun> {
  const stored = parseStoredPlan(run);
  const fresh = buildPlan(rc.graph, state, run.direction, run.target, isRelative(run.target) ? planNodes(rc, stored) : undefined);
  const remaining = stored.units.slice(run.position);
  const same = (units: PlanUnit[]) => units.length === remaining.length && units.every((u, i) => unitKey(u) === unitKey(remaining[i]!));
  const without = (passed: Set<string>) => fresh.units.filter((u) => !(u.kind === 'step' && passed.has(unitKey(u))));
  // Usually the steps the plan has passed tell; after an earlier re-plan, only the journal does.
  let units = without(new Set(stored.units.slice(0, run.position).filter((u) => u.kind === 'step').map(unitKey)));
  if (same(units)) return { plan: stored, position: run.position };
  units = without(await passedSteps(rc, run.runId));
  if (same(units)) return { plan: stored, position: run.position };

  const now = new Set(units.map((u) => u.revision));
  const before = new Set(remaining.map((u) => u.revision));
  const added = [...now].filter((r) => !before.has(r));
  const dropped = [...before].filter((r) => !now.has(r));
  const reason =
    `the ledger or what ${run.target} means moved since the plan was made` +
    (added.length ? `; now also ${added.join(', ')}` : '') +
    (dropped.length ? `; no longer ${dropped.join(', ')} (already done)` : '');
  const plan: Plan = { ...fresh, units };
  await rc.ledger.replan(run.runId, { ...plan, runId: run.runId });
  rc.emit({ event: 'run_replanned', runId: run.runId, reason, units: units.length });
  return { plan, position: 0, replanned: reason };
}

/**
 * Resumes the latest unfinished run when it has the same direction and target and its migrations are
 * unchanged (re-planned if the ledger or the target moved); otherwise abandons it and stores a new plan
 * made from `state`. With `restart`, abandons every unfinished run first. Call it holding the lease.
 */
export async function startRun(rc: RunContext, state: LedgerState, dir: Direction, target: string, options: StartOptions = {}): Promise<StartedRun> {
  const { ledger, emit } = rc;
  if (options.restart) {
    const reason = `abandoned by a --restart of ${dir === 'up' ? 'upgrade' : 'downgrade'} ${target}`;
    const runIds = await ledger.abandonRuns(reason);
    if (runIds.length) emit({ event: 'runs_abandoned', runIds, reason });
  }
  const latest = await ledger.latestUnfinishedRun();
  if (latest) {
    const stored = latest.direction === dir && latest.target === target ? parseStoredPlan(latest) : undefined;
    if (stored && sameMigrations(rc, stored)) {
      // Resuming a failed run (its cause fixed, presumably) starts budgets counted from the ledger afresh.
      if (latest.status === 'failed') await ledger.markResumed(latest.runId);
      const { plan } = await reconcileRun(rc, state, latest);
      await ledger.setRunStatus(latest.runId, 'in_progress', latest.error);
      emit({ event: 'run_started', runId: latest.runId, direction: dir, target, units: plan.units.length, resumed: true });
      return { runId: latest.runId, plan, resumed: true };
    }
    await ledger.setRunStatus(latest.runId, 'abandoned', `superseded by a new ${dir} ${target} run`);
  }
  const plan = buildPlan(rc.graph, state, dir, target);
  const runId = randomUUID();
  await ledger.createRun({ runId, target, direction: dir, plan: { ...plan, runId }, actor: rc.actor });
  emit({ event: 'run_started', runId, direction: dir, target, units: plan.units.length, resumed: false });
  return { runId, plan, resumed: false };
}

import type { Risk } from '../core/migrations/model.ts';
import { windowMinutes } from '../runtime/config.ts';
import { offpeakHandler } from '../runtime/middleware.ts';
import { openMigrator } from '../runtime/migrator.ts';
import { logger } from '../runtime/observability.ts';
import { planEventSchema } from './schemas.ts';

export interface PlanResult {
  /** Plan units pending (0: nothing to do this window). */
  pending: number;
  /** Revisions the plan touches, in order. */
  revisions: string[];
  highestRisk: Risk | 'none';
  /** A medium- or high-risk migration is pending: the state machine snapshots first. */
  risky: boolean;
  /** The window is measured from the scheduled time (or the execution start without one). */
  windowEndsAt: string;
}

const RISK_ORDER: ReadonlyArray<Risk | 'none'> = ['none', 'low', 'medium', 'high'];

/** Reads only: what an upgrade to every head would run now, and how risky it is. */
export const handler = offpeakHandler('plan', planEventSchema, async (event): Promise<PlanResult> => {
  const opened = new Date(event.input.scheduledTime ?? event.startedAt);
  const windowEndsAt = new Date(opened.getTime() + windowMinutes() * 60_000);
  const { migrator } = openMigrator('offpeak-plan');
  const plan = await migrator.plan('up', 'heads');
  const revisions = [...new Set(plan.units.map((u) => u.revision))];
  const highestRisk = revisions
    .map((r) => migrator.graph.get(r).risk)
    .reduce<Risk | 'none'>((max, risk) => (RISK_ORDER.indexOf(risk) > RISK_ORDER.indexOf(max) ? risk : max), 'none');
  const result: PlanResult = {
    pending: plan.units.length,
    revisions,
    highestRisk,
    risky: highestRisk === 'medium' || highestRisk === 'high',
    windowEndsAt: windowEndsAt.toISOString(),
  };
  logger.info({ message: 'planned', pending: result.pending, revisions, highestRisk, windowEndsAt: result.windowEndsAt });
  return result;
});

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { MigrationFailedError, MigrationGraphError, ValidationError } from '../core/errors.ts';
import type { Migrator } from '../core/migrations/runner.ts';
import type { PreviewStatement } from '../core/migrations/planner.ts';
import { invocationDeadline } from '../runtime/deadline.ts';
import { MetricName } from '../runtime/env-names.ts';
import { offpeakHandler, RUN_EARLY_TIMEOUT_MS } from '../runtime/middleware.ts';
import { openMigrator } from '../runtime/migrator.ts';
import { logger, metrics } from '../runtime/observability.ts';
import { rollbackEventSchema } from './schemas.ts';

export interface RollbackPlan {
  /** Applied heads now. */
  current: string[];
  /** The revision the database is left at (`base`: nothing applied). */
  target: string;
  /** Revisions reverted, newest first. */
  revert: Array<{ revision: string; description: string; risk: string; rollbackPlan: string | null }>;
  statements: PreviewStatement[];
  /** The statements as one script, for reading. */
  sql: string;
}

export type RollbackResult =
  | ({ status: 'dry_run' } & RollbackPlan)
  | { status: 'rolled_back' | 'in_progress' | 'window_closed'; runId: string; target: string; reverted: string[]; current: string[] };

/**
 * Resolves `-1` to a revision: the parent of the newest applied migration
 * (`base` for a root). A merge has several parents, so the operator must name one.
 */
function resolveTarget(migrator: Migrator, spec: string, reverted: readonly string[]): string {
  if (spec !== '-1') return migrator.graph.resolveRevision(spec);
  const newest = migrator.graph.get(reverted[0]!);
  if (newest.downRevisions.length > 1) {
    throw new ValidationError(
      `rollback -1 is ambiguous: ${newest.revision} merges ${newest.downRevisions.join(', ')}; give the revision to roll back to`,
    );
  }
  return newest.downRevisions[0] ?? 'base';
}

async function planRollback(migrator: Migrator, spec: string): Promise<RollbackPlan> {
  const current = await migrator.current();
  let plan;
  try {
    plan = await migrator.plan('down', spec);
  } catch (error) {
    if (error instanceof MigrationGraphError) {
      throw new ValidationError(`rollback target ${spec}: ${error.message}`, { cause: error, context: { target: spec } });
    }
    throw error;
  }
  const reverted = [...new Set(plan.units.map((u) => u.revision))];
  if (reverted.length === 0) {
    throw new ValidationError(`rollback target ${spec} is not behind the current revision (${current.join(', ') || 'base'}): nothing to roll back`, {
      context: { target: spec, current },
    });
  }
  const preview = migrator.previewSql(plan);
  return {
    current,
    target: resolveTarget(migrator, spec, reverted),
    revert: reverted.map((r) => {
      const m = migrator.graph.get(r);
      return { revision: r, description: m.description, risk: m.risk, rollbackPlan: m.rollbackPlan ?? null };
    }),
    statements: preview.statements,
    sql: preview.text,
  };
}

/**
 * The manual rollback invoke. It checks that the target exists and is behind the
 * current revision, returns the plan and SQL on `dryRun`, and acts only when
 * `confirm` equals the resolved target revision. Re-invoking with the same
 * target resumes an unfinished rollback.
 */
export const handler = offpeakHandler('rollback', rollbackEventSchema, async (event, context, { signal }): Promise<RollbackResult> => {
  const { migrator } = openMigrator('offpeak-rollback');
  const plan = await planRollback(migrator, event.target);
  logger.info({ message: 'rollback_planned', target: plan.target, revert: plan.revert.map((r) => r.revision), dryRun: event.dryRun ?? false });
  if (event.dryRun) return { status: 'dry_run', ...plan };

  if (event.confirm === undefined) {
    throw new ValidationError(
      `rollback to ${plan.target} is not confirmed: invoke with "dryRun": true to see the plan, then with "confirm": "${plan.target}"`,
      { context: { target: plan.target } },
    );
  }
  if (event.confirm !== plan.target) {
    throw new ValidationError(`confirm "${event.confirm}" does not match the rollback target ${plan.target}: nothing was changed`, {
      context: { target: plan.target, confirm: event.confirm },
    });
  }

  const result = await migrator.runToCompletion('down', plan.target, { deadline: invocationDeadline(context), signal });
  if (result.status === 'failed') {
    // The "rollback failed" alarm watches this; a refused request (typo, unconfirmed) never gets here.
    metrics.addMetric(MetricName.runsFailed, MetricUnit.Count, 1);
    throw new MigrationFailedError(`rollback to ${plan.target} failed: ${result.error?.message ?? 'unknown error'}`, {
      revision: result.error?.revision ?? result.next?.revision ?? plan.target,
      step: result.error?.step ?? -1,
      direction: 'down',
      context: { runId: result.runId, reverted: result.applied },
    });
  }
  metrics.addMetric(MetricName.rollbacksApplied, MetricUnit.Count, result.applied.length);
  const current = await migrator.current();
  logger.info({ message: 'rolled_back', runId: result.runId, status: result.status, reverted: result.applied, current });
  return {
    // Interrupted by the early timeout (or stopped by a critical load, which the rollback function is not given): resumable like a stop at the deadline.
    status: result.status === 'done' ? 'rolled_back' : result.status === 'interrupted' || result.status === 'load_critical' ? 'in_progress' : result.status,
    runId: result.runId,
    target: plan.target,
    reverted: result.applied,
    current,
  };
}, { timeoutEarlyInMillis: RUN_EARLY_TIMEOUT_MS });

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Risk } from '../core/migrations/model.ts';
import { preflight, refusalError, type PreflightWindow } from '../core/preflight/preflight.ts';
import { WEEKDAYS } from '../core/window.ts';
import { databaseConfig, optionalEnv, snapshotRetentionDays, windowMinutes } from '../runtime/config.ts';
import { EnvName, MetricName } from '../runtime/env-names.ts';
import { offpeakHandler } from '../runtime/middleware.ts';
import { cloudWatchClient, writerFreeLocalStorage } from '../runtime/free-storage.ts';
import { openMigrator } from '../runtime/migrator.ts';
import { logger, metrics } from '../runtime/observability.ts';
import { windowsSpanned } from '../runtime/window.ts';
import { planEventSchema } from './schemas.ts';

export interface PlanResult {
  /** Plan units pending (0: nothing to do this window). */
  pending: number;
  /** Revisions the plan touches, in order. */
  revisions: string[];
  highestRisk: Risk | 'none';
  /** A medium- or high-risk migration is pending. */
  risky: boolean;
  /** Risky, and no unfinished run (which took its snapshot in its first window): one snapshot per run. */
  snapshotNeeded: boolean;
  /** offpeak-* snapshots created before this are deleted after the new one is taken. */
  snapshotCutoff: string;
  /** An unfinished run this window resumes. */
  unfinishedRun: { runId: string; status: string; startedAt: string; windows: number } | null;
  /** The window is measured from the scheduled time (or the execution start without one). */
  windowEndsAt: string;
  /** Pre-flight of the pending index builds against the window (null when nothing is pending). */
  preflight: {
    builds: number;
    totalBytes: number;
    totalSeconds: number;
    uncalibrated: number;
    window: PreflightWindow | null;
    warnings: number;
    /** The writer's free local storage the builds were checked against (null: unknown, not checked). */
    freeBytes: number | null;
    /** Where freeBytes was read, or why it is unknown. */
    freeBytesSource: string;
  } | null;
}

const RISK_ORDER: ReadonlyArray<Risk | 'none'> = ['none', 'low', 'medium', 'high'];

/** Reads only: what an upgrade to every head would run now, how risky it is, and what is left over. */
export const handler = offpeakHandler('plan', planEventSchema, async (event): Promise<PlanResult> => {
  const opened = new Date(event.input.scheduledTime ?? event.startedAt);
  const windowEndsAt = new Date(opened.getTime() + windowMinutes() * 60_000);
  const { migrator, client } = openMigrator('offpeak-plan');
  const plan = await migrator.plan('up', 'heads');
  // Pre-flight, the run's first check: a build that cannot fit in a whole window fails the run here, before any change.
  // Free disk: the writer's FreeLocalStorage from CloudWatch; unknown (a warning, never a failure) when it cannot be read.
  const free = plan.units.length ? await writerFreeLocalStorage(cloudWatchClient, databaseConfig().resourceArn) : undefined;
  const freeBytesSource = free ? (free.bytes === undefined ? free.warning : free.source) : '';
  const checked =
    plan.units.length && free
      ? await preflight({
          client,
          graph: migrator.graph,
          plan,
          schema: migrator.ledger.schema,
          windowMinutes: windowMinutes(),
          freeBytes: free.bytes,
          ...(free.bytes === undefined ? { freeBytesUnknown: free.warning } : { freeBytesSource: free.source }),
        })
      : undefined;
  if (checked) {
    const { report } = checked;
    if (free?.bytes === undefined) logger.warn({ message: 'free space unknown', reason: freeBytesSource });
    logger.info({ message: 'preflight', builds: report.units.length, totalBytes: report.totalBytes, totalSeconds: report.totalSeconds, window: report.window, freeBytes: free?.bytes ?? null, freeBytesSource, warnings: report.warnings });
    const refused = refusalError(checked);
    // A rehearsal runs what pre-flight would refuse: its measured time is what settles the estimate.
    if (refused && !event.rehearsal) throw refused;
  }
  const revisions = [...new Set(plan.units.map((u) => u.revision))];
  const highestRisk = revisions
    .map((r) => migrator.graph.get(r).risk)
    .reduce<Risk | 'none'>((max, risk) => (RISK_ORDER.indexOf(risk) > RISK_ORDER.indexOf(max) ? risk : max), 'none');
  const risky = highestRisk === 'medium' || highestRisk === 'high';

  const unfinished = (await migrator.ledger.exists()) ? await migrator.ledger.latestUnfinishedRun() : undefined;
  const days = new Set(optionalEnv(EnvName.windowDays)?.split(',') ?? WEEKDAYS);
  const unfinishedRun = unfinished
    ? { runId: unfinished.runId, status: unfinished.status, startedAt: unfinished.startedAt.toISOString(), windows: windowsSpanned(unfinished.startedAt, opened, days) }
    : null;
  // Emitted at every window start (not by a rehearsal's check), 0 when nothing is left over, for the "run unfinished for N windows" alarm.
  if (!event.rehearsal) metrics.addMetric(MetricName.unfinishedRunWindows, MetricUnit.Count, unfinishedRun?.windows ?? 0);

  const result: PlanResult = {
    pending: plan.units.length,
    revisions,
    highestRisk,
    risky,
    snapshotNeeded: risky && unfinishedRun === null,
    snapshotCutoff: new Date(opened.getTime() - snapshotRetentionDays() * 86_400_000).toISOString(),
    unfinishedRun,
    windowEndsAt: windowEndsAt.toISOString(),
    preflight: checked
      ? {
          builds: checked.report.units.length,
          totalBytes: checked.report.totalBytes,
          totalSeconds: checked.report.totalSeconds,
          uncalibrated: checked.report.units.filter((u) => !u.calibrated).length,
          window: checked.report.window,
          warnings: checked.report.warnings.length,
          freeBytes: free?.bytes ?? null,
          freeBytesSource,
        }
      : null,
  };
  logger.info({ message: 'planned', pending: result.pending, revisions, highestRisk, unfinishedRun, windowEndsAt: result.windowEndsAt });
  return result;
});

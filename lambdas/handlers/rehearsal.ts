import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { PublishCommand } from '@aws-sdk/client-sns';
import * as z from 'zod';
import { ReportPublishError } from '../core/errors.ts';
import { recordRehearsedBuilds, rehearsalFit, rehearsedBuilds, rehearsedMigrations, type RehearsedBuild, type UnitTiming } from '../core/migrations/rehearsal.ts';
import { renderRehearsalText, rehearsalSubject, type RehearsalNotice } from '../core/render/rehearsal-notice.ts';
import { topicArn, windowMinutes } from '../runtime/config.ts';
import { openDatabase } from '../runtime/data-api.ts';
import { MetricName } from '../runtime/env-names.ts';
import { offpeakHandler } from '../runtime/middleware.ts';
import { logger, metrics } from '../runtime/observability.ts';
import { snsClient } from '../runtime/sns-client.ts';
import { rehearsalEventSchema, type RehearsalEvent } from './schemas.ts';

/** What `record` returns into the state (`$.record`), read again by `notify`. */
export interface RehearsalRecord {
  units: UnitTiming[];
  builds: RehearsedBuild[];
  samplesRecorded: number;
  totalMs: number;
  window: { minutes: number; fits: boolean } | null;
}

const failure = z.looseObject({ Error: z.string(), Cause: z.string().nullable().optional() });
const stateSchema = z.looseObject({
  clone: z.looseObject({ id: z.string(), requestedAt: z.string().optional() }).optional(),
  run: z.looseObject({ status: z.string().optional(), error: z.looseObject({ message: z.string() }).nullable().optional() }).optional(),
  record: z.looseObject({ units: z.array(z.any()), builds: z.array(z.any()), samplesRecorded: z.number(), totalMs: z.number(), window: z.any() }).optional(),
  failed: z.record(z.string(), failure).optional(),
  cleanupError: failure.optional(),
});

/** A Lambda task's Cause is the function's error as JSON; an SDK task's is plain text. */
function causeMessage(cause: string | null | undefined, error: string): string {
  try {
    const parsed = JSON.parse(cause ?? '') as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // plain text
  }
  return cause ?? error;
}

/** The notice the rehearsal's final state stands for. A state this cannot read still gets a notice, with less detail. */
export function rehearsalNoticeFrom(event: Extract<RehearsalEvent, { action: 'notify' }>, database: string, now = new Date()): RehearsalNotice {
  const parsed = stateSchema.safeParse(event.state);
  if (!parsed.success) logger.warn({ message: 'rehearsal_state_unreadable', issues: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`) });
  const s = parsed.success ? parsed.data : {};
  const record = s.record as RehearsalRecord | undefined;
  const [failedState, failedWith] = Object.entries(s.failed ?? {})[0] ?? [];
  const runFailed = s.run?.status !== undefined && s.run.status !== 'done' && !failedState;
  const requested = s.clone?.requestedAt ? Date.parse(s.clone.requestedAt) : NaN;
  return {
    outcome: failedState || runFailed || !record ? 'failed' : 'done',
    database,
    clone: s.clone?.id ?? null,
    units: record?.units ?? [],
    builds: record?.builds ?? [],
    totalMs: record?.totalMs ?? 0,
    window: record?.window ?? null,
    samplesRecorded: record?.samplesRecorded ?? 0,
    // The notice is sent right after the deletion calls: its time ends the clone's life (or its life so far).
    cloneLifetimeMs: Number.isFinite(requested) ? Math.max(0, now.getTime() - requested) : null,
    cloneDeleted: s.cleanupError === undefined,
    cleanupError: s.cleanupError ? `${s.cleanupError.Error}: ${causeMessage(s.cleanupError.Cause, s.cleanupError.Error)}` : null,
    failure: failedState
      ? { state: failedState, error: failedWith!.Error, message: causeMessage(failedWith!.Cause, failedWith!.Error) }
      : runFailed
        ? { state: 'rehearsal run', error: `run ${s.run!.status}`, message: s.run!.error?.message ?? 'the run stopped before the end' }
        : null,
    execution: event.execution,
  };
}

/**
 * The rehearsal state machine's two own tasks:
 * - `record`: reads what the run measured in the clone's ledger (per migration, per index build) and records
 *   the builds in the production ledger as `rehearsal` calibration samples for pre-flight;
 * - `notify`: publishes the notice (email text; Slack gets the same text) once the clone is gone, or says it
 *   is not.
 */
export const handler = offpeakHandler('rehearsal', rehearsalEventSchema, async (event): Promise<RehearsalRecord | { messageId: string | undefined }> => {
  if (event.action === 'record') {
    const clone = openDatabase({ resourceArn: event.clusterArn });
    const production = openDatabase();
    const units = await rehearsedMigrations(clone.client, event.runId, clone.ledgerSchema);
    const builds = await rehearsedBuilds(clone.client, event.runId, clone.ledgerSchema);
    const samplesRecorded = await recordRehearsedBuilds(production.client, builds, event.runId, production.ledgerSchema);
    const fit = rehearsalFit(units, windowMinutes());
    logger.info({ message: 'rehearsal_recorded', units: units.length, samplesRecorded, totalMs: fit.totalMs });
    return { units, builds, samplesRecorded, totalMs: fit.totalMs, window: fit.window };
  }
  const notice = rehearsalNoticeFrom(event, openDatabase().database);
  const text = renderRehearsalText(notice);
  let messageId: string | undefined;
  try {
    const out = await snsClient.send(new PublishCommand({ TopicArn: topicArn(), Subject: rehearsalSubject(notice), MessageStructure: 'json', Message: JSON.stringify({ default: text, email: text }) }));
    messageId = out.MessageId;
  } catch (error) {
    throw new ReportPublishError(`SNS refused the rehearsal notice (${(error as Error).name})`, { cause: error, context: { kind: 'rehearsal' } });
  }
  metrics.addMetric(MetricName.noticesSent, MetricUnit.Count, 1);
  logger.info({ message: 'notice_published', kind: 'rehearsal', outcome: notice.outcome, cloneDeleted: notice.cloneDeleted, messageId });
  return { messageId };
});

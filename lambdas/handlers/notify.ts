import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod';
import { parseSqlState } from '../core/db/data-api-errors.ts';
import { describePlanCheck, type PlanCheck } from '../core/migrations/plan-proof.ts';
import { indexProblem } from '../core/migrations/index-check.ts';
import type { Commands, Notice, RunningBuild } from '../core/render/notice.ts';
import { optionalEnv } from '../runtime/config.ts';
import { EnvName, MetricName } from '../runtime/env-names.ts';
import { offpeakHandler } from '../runtime/middleware.ts';
import { logger, metrics } from '../runtime/observability.ts';
import { publishNotice } from '../runtime/notice-publisher.ts';
import { FailedStateKey } from './notify-keys.ts';
import { notifyEventSchema, type NotifyEvent } from './schemas.ts';


const run = z.looseObject({
  runId: z.string().nullable().optional(),
  status: z.string().optional(),
  position: z.number().optional(),
  total: z.number().optional(),
  next: z.looseObject({ revision: z.string(), step: z.number().nullable(), description: z.string() }).nullable().optional(),
  runApplied: z.array(z.looseObject({ revision: z.string(), description: z.string().optional(), durationMs: z.number().nullable().optional() })).optional(),
  remaining: z.array(z.string()).optional(),
  // The notice model's builds (running-builds.ts noticeBuild maps the engine's report).
  runningBuilds: z.array(z.looseObject({ index: z.string() })).optional(),
  verification: z
    .looseObject({
      analyzed: z.array(z.string()),
      indexes: z.array(z.looseObject({ schema: z.string(), name: z.string(), expected: z.enum(['valid', 'absent']).default('valid'), exists: z.boolean(), valid: z.boolean() })),
    })
    .nullable()
    .optional(),
  planProof: z
    .looseObject({
      checks: z.array(z.looseObject({ revision: z.string(), name: z.string(), index: z.string(), outcome: z.enum(['held', 'not_chosen', 'unusable', 'skipped', 'error']) })),
      error: z.string().optional(),
    })
    .nullable()
    .optional(),
  error: z.looseObject({ message: z.string(), revision: z.string().optional(), step: z.number().optional(), sqlState: z.string().optional() }).nullable().optional(),
  throttledMs: z.number().optional(),
  loadCritical: z.string().nullable().optional(),
});
const stateSchema = z.looseObject({
  run: run.optional(),
  failed: z.record(z.string(), z.looseObject({ Error: z.string(), Cause: z.string().nullable().optional() })).optional(),
});

/** A Lambda task's Cause is the function's error as JSON; an SDK task's is plain text. */
function describeCause(error: string, cause: string | null | undefined): { errorName: string; message: string; revision?: string; step?: number } {
  try {
    const parsed = JSON.parse(cause ?? '') as { errorType?: string; errorMessage?: string; context?: { revision?: string; step?: number } };
    if (parsed && typeof parsed.errorMessage === 'string') return { errorName: parsed.errorType ?? error, message: parsed.errorMessage };
  } catch {
    // plain text
  }
  return { errorName: error, message: cause ?? error };
}

function commands(event: NotifyEvent): Commands {
  const rollbackFunction = optionalEnv(EnvName.rollbackFunctionName) ?? '<RollbackFunctionName>';
  return {
    resume: `aws stepfunctions start-execution --state-machine-arn ${event.stateMachineArn} --input '{"source":"manual"}'`,
    rollback: `offpeak invoke rollback --to -1 --function ${rollbackFunction} --dry-run   (then without --dry-run)`,
  };
}

/** The notice the state machine's state stands for. */
export function noticeFrom(event: NotifyEvent, database: string): Notice {
  // A state this handler does not understand still gets its notice (with less detail): a notice
  // that fails on a shape change would turn the one message about a run into none.
  const parsed = stateSchema.safeParse(event.state);
  if (!parsed.success) logger.warn({ message: 'notice_state_unreadable', kind: event.kind, issues: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`) });
  const state = parsed.success ? parsed.data : {};
  const r = state.run;
  if (event.kind === 'run_done') {
    const checked = (r?.verification?.indexes ?? []).map((i) => `${i.schema}.${i.name}`);
    const problems = (r?.verification?.indexes ?? []).flatMap((i) => indexProblem(i) ?? []);
    return {
      kind: 'run_done',
      database,
      runId: r?.runId ?? '?',
      applied: r?.runApplied ?? [],
      ...(event.startedAt ? { durationMs: Date.now() - new Date(event.startedAt).getTime() } : {}),
      remaining: r?.remaining ?? [],
      ...(r?.verification ? { verification: { checkedIndexes: checked, problems, analyzed: r.verification.analyzed } } : {}),
      ...(r?.planProof
        ? {
            planProof: {
              // The checks are the runner's own PlanCheck objects, carried through the state as JSON.
              checks: r.planProof.checks.map((c) => ({ revision: c.revision, name: c.name, index: c.index, outcome: c.outcome, text: describePlanCheck(c as unknown as PlanCheck) })),
              ...(r.planProof.error ? { error: r.planProof.error } : {}),
            },
          }
        : {}),
      ...(r?.throttledMs ? { throttledMs: r.throttledMs } : {}),
    };
  }
  if (event.kind === 'window_closed') {
    return {
      kind: 'window_closed',
      database,
      runId: r?.runId ?? '?',
      position: r?.position ?? 0,
      total: r?.total ?? 0,
      next: r?.next ?? null,
      remaining: r?.remaining ?? [],
      runningBuilds: (r?.runningBuilds ?? []) as RunningBuild[],
      commands: commands(event),
      ...(r?.throttledMs ? { throttledMs: r.throttledMs } : {}),
      ...(r?.loadCritical ? { loadCritical: r.loadCritical } : {}),
    };
  }
  const caught = Object.entries(state.failed ?? {})[0];
  if (caught) {
    const [key, failure] = caught;
    const cause = describeCause(failure.Error, failure.Cause);
    const sqlState = parseSqlState(cause.message);
    return {
      kind: 'run_failed',
      database,
      runId: r?.runId ?? null,
      step: FailedStateKey[key as keyof typeof FailedStateKey] ?? key,
      errorName: cause.errorName,
      message: cause.message,
      ...(sqlState ? { sqlState } : {}),
      commands: commands(event),
    };
  }
  const error = r?.error;
  return {
    kind: 'run_failed',
    database,
    runId: r?.runId ?? null,
    step: FailedStateKey.migrate,
    ...(error?.revision ? { revision: error.revision } : {}),
    ...(error?.step !== undefined ? { migrationStep: error.step } : {}),
    ...(error?.sqlState ? { sqlState: error.sqlState } : {}),
    errorName: r?.status === 'failed' ? 'MigrationFailed' : `UnexpectedStatus(${r?.status ?? 'none'})`,
    message: error?.message ?? `the run stopped with status ${r?.status ?? 'none'}`,
    commands: commands(event),
  };
}

export interface NotifyResult {
  messageId: string;
  kind: Notice['kind'];
}

/**
 * Renders one window-run notice and publishes it once: plain text for email (and
 * any other protocol), the notice model for the slack-notify Lambda, which renders
 * it as Block Kit. Throws when SNS refuses; the state machine retries, then
 * catches (a notice never fails a finished run) and this function's error alarm fires.
 */
export const handler = offpeakHandler('notify', notifyEventSchema, async (event): Promise<NotifyResult> => {
  const notice = noticeFrom(event, optionalEnv(EnvName.databaseName) ?? 'database');
  const messageId = await publishNotice(notice);
  metrics.addMetric(MetricName.noticesSent, MetricUnit.Count, 1);
  logger.info({ message: 'notice_published', kind: notice.kind, messageId });
  return { messageId, kind: notice.kind };
});

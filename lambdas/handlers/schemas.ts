// A namespace import lets esbuild drop what is unused (`import { z }` pulls in every locale: ~400 KB).
import * as z from 'zod';

/**
 * Event schemas of every handler, in one file so the fuzz tests and the
 * rollback CLI use exactly what the handlers validate with. Objects are strict:
 * an unknown key is a typo or the wrong event, and is rejected rather than ignored.
 */

/** A migration revision id, as the model defines it. */
export const revisionId = z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'expected a revision id (1-64 letters, digits or underscores)');

/** A run id handed back by `advance`. */
export const runId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'expected a run id returned by a previous advance');

const isoTime = z.iso.datetime({ offset: true, message: 'expected an ISO 8601 time, e.g. 2025-01-31T23:00:00Z' });

/** Who started the invocation: a schedule, the state machine, or a person. */
const source = z.enum(['schedule', 'manual']);

/**
 * The state machine's plan task: the execution input and its start time. The input
 * is open: the console's "Start execution" sends `{"Comment": "Insert your JSON here"}`,
 * and a manual start with any input means "open a window now".
 */
export const planEventSchema = z.strictObject({
  input: z.looseObject({
    source: source.optional(),
    /** Scheduler's `<aws.scheduler.scheduled-time>`: the window opened then. */
    scheduledTime: isoTime.optional(),
  }),
  startedAt: isoTime,
  /** The rehearsal asks: what is pending, without refusing on pre-flight (measuring the real time is its point). */
  rehearsal: z.boolean().optional(),
});
export type PlanEvent = z.output<typeof planEventSchema>;

/**
 * A rehearsal clone's ARN: only clusters named offpeak-rehearsal-* (IAM grants the Data API on those alone), so a
 * payload can never point the migrate function at some other cluster.
 */
export const rehearsalClusterArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:offpeak-rehearsal-[a-z0-9-]{1,45}$/, 'expected the ARN of a rehearsal clone (a cluster named offpeak-rehearsal-*)');

/** One `advance` of a window run. */
export const migrateEventSchema = z.strictObject({
  /** Null or absent on the first call of a window run. */
  runId: runId.nullable().optional(),
  /** When the window closes; absent: the configured window length from now. */
  windowEndsAt: isoTime.optional(),
  /** Time the window's earlier advance calls spent throttled by the load guard (the state machine carries it). */
  throttledMs: z.number().int().min(0).optional(),
  /** A rehearsal: advance on this clone instead of the configured cluster, with no window (the deadline still holds). */
  rehearsalClusterArn: rehearsalClusterArn.optional(),
});
export type MigrateEvent = z.output<typeof migrateEventSchema>;

/** The rehearsal state machine's own tasks: record what the clone measured, and send the notice. */
export const rehearsalEventSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('record'), clusterArn: rehearsalClusterArn, runId }),
  z.strictObject({
    action: z.literal('notify'),
    execution: z.string().min(1),
    startedAt: isoTime.optional(),
    /** The whole state: $.clone, $.run, $.record, $.failed, $.cleanup (each may be missing after a failure). */
    state: z.record(z.string(), z.unknown()),
  }),
]);
export type RehearsalEvent = z.output<typeof rehearsalEventSchema>;

/** The manual rollback invoke. */
export const rollbackEventSchema = z.strictObject({
  /** A revision behind the current one, or -1 for one step back. */
  target: z.union([z.literal('-1'), revisionId], { message: 'target must be a revision id or "-1"' }),
  dryRun: z.boolean().optional(),
  /** Must equal the resolved target revision for the rollback to act. */
  confirm: revisionId.optional(),
});
export type RollbackEvent = z.output<typeof rollbackEventSchema>;

/** Nightly ANALYZE (from its schedule, or by hand). */
export const analyzeEventSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('schedule'), scheduledTime: isoTime.optional() }),
  z.strictObject({ source: z.literal('manual') }),
]);
export type AnalyzeEvent = z.output<typeof analyzeEventSchema>;

/** The nightly report (from its schedule, or by hand). */
export const indexReportEventSchema = z.strictObject({
  source: z.enum(['schedule', 'manual']),
  scheduledTime: isoTime.optional(),
});
export type IndexReportEvent = z.output<typeof indexReportEventSchema>;

/** An SNS delivery to a Lambda subscription; SNS adds fields over time, so those objects stay open. */
export const snsEventSchema = z.strictObject({
  Records: z
    .array(
      z.looseObject({
        EventSource: z.literal('aws:sns'),
        Sns: z.looseObject({
          MessageId: z.string().min(1),
          TopicArn: z.string().startsWith('arn:'),
          Subject: z.string().nullable().optional(),
          Message: z.string(),
          Timestamp: isoTime,
        }),
      }),
    )
    .min(1, 'expected at least one SNS record'),
});
export type SnsEvent = z.output<typeof snsEventSchema>;

/** A window-run notice from the state machine: which one, and the whole state it is about. */
export const notifyEventSchema = z.strictObject({
  kind: z.enum(['run_done', 'window_closed', 'run_failed']),
  stateMachineArn: z.string().startsWith('arn:'),
  execution: z.string().min(1),
  startedAt: isoTime.optional(),
  state: z.record(z.string(), z.unknown()),
});
export type NotifyEvent = z.output<typeof notifyEventSchema>;

/** The doctor: from the CDK trigger (which sends its own fields) or by hand with `{}`. */
export const doctorEventSchema = z.looseObject({});

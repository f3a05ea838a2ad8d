import { clip } from './format.ts';
import { escapeSlack, type SlackMessage } from './slack-blocks.ts';

/**
 * One model for everything offpeak says outside a report: a window run that
 * finished, a window that closed with work left, a run that failed, an alarm.
 * The notify handler renders it as text (email) and the slack-notify handler as
 * Block Kit, from the same object, so the two never say different things.
 */

export interface AppliedRevision {
  revision: string;
  description?: string | undefined;
  durationMs?: number | null | undefined;
}

/** A CREATE INDEX CONCURRENTLY still running when the window closed, and who it waits for. */
export interface RunningBuild {
  index: string;
  table?: string | undefined;
  phase?: string | undefined;
  /** How far it is in its phase, e.g. 'blocks 10/40, tuples 0/5000'. */
  progress?: string | undefined;
  /** Sessions the build waits for (their pid and what they run), when the engine reports them. */
  blockers?: Array<{ pid: number; query?: string | undefined; state?: string | undefined; waitingSeconds?: number | undefined }> | undefined;
}

/** One plan expectation checked at the end of the run (migrations/plan-proof.ts), as the notice shows it. */
export interface PlanProofLine {
  revision: string;
  name: string;
  index: string;
  /** held | not_chosen | unusable | skipped | error */
  outcome: string;
  /** The check in one sentence (describePlanCheck), honest about usable-but-not-chosen. */
  text: string;
}

/** Expectations that do not hold: the index cannot serve its query, or the check's SQL failed. */
const planProblems = (lines: readonly PlanProofLine[]) => lines.filter((l) => l.outcome === 'unusable' || l.outcome === 'error');

export interface Commands {
  resume: string;
  rollback: string;
}

export type Notice =
  | {
      kind: 'run_done';
      database: string;
      runId: string;
      applied: AppliedRevision[];
      durationMs?: number | undefined;
      /** Revisions still pending (newer than the run); a new run picks them up. */
      remaining: string[];
      verification?: { checkedIndexes: string[]; problems: string[]; analyzed: string[] } | undefined;
      /** Plan proof: never fails the run, so a problem here is said in the headline. */
      planProof?: { checks: PlanProofLine[]; error?: string | undefined } | undefined;
      /** Time the run's window spent throttled over max-load (load guard); absent or 0 when never. */
      throttledMs?: number | undefined;
    }
  | {
      kind: 'window_closed';
      database: string;
      runId: string;
      position: number;
      total: number;
      next?: { revision: string; step: number | null; description: string } | null | undefined;
      remaining: string[];
      runningBuilds?: RunningBuild[] | undefined;
      commands: Commands;
      throttledMs?: number | undefined;
      /** The run stopped before the window's end: the database was over critical-load (e.g. `active=52 > 40`). */
      loadCritical?: string | undefined;
    }
  | {
      kind: 'run_failed';
      database: string;
      runId?: string | null | undefined;
      /** The state machine step (or handler) that failed. */
      step: string;
      revision?: string | undefined;
      migrationStep?: number | undefined;
      sqlState?: string | undefined;
      errorName: string;
      message: string;
      commands: Commands;
    }
  | {
      kind: 'alarm';
      alarmName: string;
      state: string;
      /** The state before this change (OK, INSUFFICIENT_DATA, ALARM). */
      previousState?: string | undefined;
      reason: string;
      description?: string | undefined;
      at?: string | undefined;
      /** Set when this alarm reached the operators through the fallback: why the alarm renderer failed. */
      rendererFailed?: string | undefined;
    };

export interface RenderedNotice {
  /** SNS Subject: under 100 characters, one line. */
  subject: string;
  text: string;
}

const seconds = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '' : ` (${(ms / 1000).toFixed(1)} s)`);

function headline(notice: Notice): string {
  switch (notice.kind) {
    case 'run_done': {
      const bad = planProblems(notice.planProof?.checks ?? []).length;
      return `offpeak ${notice.database}: window run done, ${notice.applied.length} migration(s) applied${bad ? `; ${bad} plan expectation(s) NOT HOLDING` : ''}`;
    }
    case 'window_closed':
      return notice.loadCritical
        ? `offpeak ${notice.database}: stopped at ${notice.position}/${notice.total} on critical load, resumes next window`
        : `offpeak ${notice.database}: window closed at ${notice.position}/${notice.total}, resumes next window`;
    case 'run_failed':
      return `offpeak ${notice.database}: window run FAILED at ${notice.revision ?? notice.step}`;
    case 'alarm':
      return `offpeak alarm ${notice.state}: ${notice.alarmName}`;
  }
}

/** Lines of the body, shared by text and Slack (Slack gets them as sections). */
function sections(notice: Notice): Array<{ title: string; lines: string[] }> {
  switch (notice.kind) {
    case 'run_done': {
      const out = [
        { title: 'Applied', lines: notice.applied.length ? notice.applied.map((a) => `${a.revision}${a.description ? `  ${a.description}` : ''}${seconds(a.durationMs)}`) : ['nothing'] },
      ];
      if (notice.durationMs !== undefined) out.push({ title: 'Duration', lines: [`${(notice.durationMs / 60_000).toFixed(1)} min`] });
      if (notice.verification) {
        const v = notice.verification;
        out.push({
          title: 'Verified',
          lines: [
            `${v.checkedIndexes.length} index(es) the run built or dropped checked, ${v.problems.length} problem(s)`,
            ...v.problems.map((p) => `PROBLEM: ${p}`),
            `ANALYZE: ${v.analyzed.length ? v.analyzed.join(', ') : 'nothing left to analyze'}`,
          ],
        });
      }
      if (notice.planProof) {
        const { checks, error } = notice.planProof;
        const bad = planProblems(checks);
        out.push({
          title: 'Plan proof',
          lines: [
            `${checks.length} expectation(s) checked (EXPLAIN after the builds and ANALYZE), ${bad.length} not holding`,
            ...checks.map((c) => `${bad.includes(c) ? 'PROBLEM: ' : ''}${c.text}`),
            ...(error ? [`PROBLEM: ${error}`] : []),
          ],
        });
      }
      if (notice.throttledMs) out.push({ title: 'Throttled', lines: [throttledLine(notice.throttledMs)] });
      out.push({ title: 'Remaining', lines: notice.remaining.length ? [`${notice.remaining.join(', ')} (newer than this run: a new run takes them)`] : ['nothing pending'] });
      out.push({ title: 'Run', lines: [notice.runId] });
      return out;
    }
    case 'window_closed': {
      const out = [
        { title: 'Progress', lines: [`${notice.position} of ${notice.total} step(s) done; run ${notice.runId}`] },
        { title: 'Next', lines: [notice.next ? `${notice.next.revision} step ${notice.next.step ?? '-'}: ${notice.next.description}` : 'nothing'] },
        { title: 'Remaining', lines: notice.remaining.length ? notice.remaining : ['nothing'] },
      ];
      if (notice.loadCritical) {
        out.unshift({ title: 'Stopped early', lines: [`the database was over critical-load (${notice.loadCritical}); a statement still waiting for its lock was cancelled; the run resumes in the next window`] });
      }
      if (notice.throttledMs) out.push({ title: 'Throttled', lines: [throttledLine(notice.throttledMs)] });
      if (notice.runningBuilds?.length) {
        out.push({
          title: 'Still building',
          lines: notice.runningBuilds.flatMap((b) => [
            `${b.index}${b.table ? ` on ${b.table}` : ''}${b.phase ? ` (${b.phase}${b.progress ? `: ${b.progress}` : ''})` : ''}`,
            ...(b.blockers ?? []).map((x) => `  waits for pid ${x.pid}${x.state ? ` [${x.state}]` : ''}${x.waitingSeconds !== undefined ? ` ${x.waitingSeconds} s` : ''}${x.query ? `: ${clip(x.query, 120)}` : ''}`),
          ]),
        });
      }
      out.push({ title: 'To resume now', lines: [notice.commands.resume] });
      return out;
    }
    case 'run_failed': {
      const where = [
        `step: ${notice.step}`,
        ...(notice.revision ? [`migration: ${notice.revision}${notice.migrationStep !== undefined && notice.migrationStep >= 0 ? ` step ${notice.migrationStep + 1}` : ''}`] : []),
        ...(notice.sqlState ? [`SQLSTATE: ${notice.sqlState}`] : []),
        ...(notice.runId ? [`run: ${notice.runId}`] : []),
      ];
      return [
        { title: 'Where', lines: where },
        { title: 'Error', lines: [`${notice.errorName}: ${clip(notice.message, 1500)}`] },
        { title: 'To resume after fixing the cause', lines: [notice.commands.resume] },
        { title: 'To roll back instead', lines: [notice.commands.rollback] },
      ];
    }
    case 'alarm':
      return [
        { title: 'State', lines: [notice.state + (notice.previousState ? ` (was ${notice.previousState})` : '') + (notice.at ? ` since ${notice.at}` : '')] },
        ...(notice.description ? [{ title: 'Meaning', lines: [notice.description] }] : []),
        { title: 'Reason', lines: [notice.reason] },
        ...(notice.rendererFailed ? [{ title: 'Delivered by the fallback', lines: [`the alarm renderer failed: ${clip(notice.rendererFailed, 500)}`] }] : []),
      ];
  }
}

export function renderNoticeText(notice: Notice): RenderedNotice {
  const body = sections(notice)
    .map((s) => `${s.title}:\n${s.lines.map((l) => `  ${l}`).join('\n')}`)
    .join('\n\n');
  const subject = clip(headline(notice).replace(/[\r\n]+/g, ' '), 99);
  return { subject, text: `${headline(notice)}\n\n${body}\n` };
}

/** Block Kit: a header and one section per part, each within Slack's 3,000 characters. */
export function renderNoticeSlack(notice: Notice): SlackMessage {
  const title = headline(notice);
  return {
    text: escapeSlack(clip(title, 200)),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(title, 150), emoji: false } },
      ...sections(notice).map((s) => ({
        type: 'section' as const,
        text: { type: 'mrkdwn' as const, text: clip(`*${escapeSlack(s.title)}*\n${s.lines.map((l) => escapeSlack(l)).join('\n')}`, 2900) },
      })),
    ],
  };
}

/** A notice travels in the SNS `lambda` body as `{ "offpeakNotice": 1, "notice": … }`. */
export function noticeEnvelope(notice: Notice): string {
  return JSON.stringify({ offpeakNotice: 1, notice });
}

export function parseNoticeEnvelope(message: string): Notice | undefined {
  try {
    const value = JSON.parse(message) as { offpeakNotice?: unknown; notice?: Notice };
    return value && value.offpeakNotice === 1 && value.notice ? value.notice : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A CloudWatch alarm's SNS message as a notice (its JSON carries AlarmName, NewStateValue, NewStateReason,
 * OldStateValue, StateChangeTime, AlarmDescription). Also reads the alarm out of a Lambda on-failure
 * destination record (`requestPayload` = the SNS event the alarm renderer failed on), the fallback path.
 */
export function alarmNotice(message: string): Notice | undefined {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(message) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const failed = failedDelivery(value);
  if (failed) {
    const inner = alarmNotice(failed.message);
    return inner?.kind === 'alarm' ? { ...inner, rendererFailed: failed.error } : undefined;
  }
  if (typeof value['AlarmName'] !== 'string' || typeof value['NewStateValue'] !== 'string') return undefined;
  const text = (key: string) => (typeof value[key] === 'string' ? value[key] : undefined);
  return {
    kind: 'alarm',
    alarmName: value['AlarmName'],
    state: value['NewStateValue'],
    previousState: text('OldStateValue'),
    reason: String(value['NewStateReason'] ?? ''),
    description: text('AlarmDescription'),
    at: text('StateChangeTime'),
  };
}

/** A Lambda destination record of a failed SNS-triggered invocation: the first record's message, and the error. */
function failedDelivery(value: Record<string, unknown>): { message: string; error: string } | undefined {
  const payload = value['requestPayload'] as { Records?: Array<{ Sns?: { Message?: unknown } }> } | undefined;
  const message = payload?.Records?.[0]?.Sns?.Message;
  if (typeof message !== 'string' || !value['requestContext']) return undefined;
  const response = value['responsePayload'] as { errorType?: unknown; errorMessage?: unknown } | undefined;
  const condition = (value['requestContext'] as { condition?: unknown }).condition;
  const error = [response?.errorType, response?.errorMessage].filter((x) => typeof x === 'string').join(': ') || String(condition ?? 'unknown');
  return { message, error };
}

/** Time paused by the load guard, e.g. `12.5 min paused over max-load (the pause counts against the window)`. */
function throttledLine(ms: number): string {
  return `${ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${Math.round(ms / 1000)} s`} paused over max-load (the pause counts against the window)`;
}

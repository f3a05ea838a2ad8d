/**
 * The load guard, modelled on gh-ost's `max-load` / `critical-load`: offpeak backs off when the application
 * is busy, and stops (resumably) when it is in trouble.
 *
 * Load is read from pg_stat_activity in this database (one statement), leaving out offpeak's own sessions
 * (the same ones `cancelRunning` would cancel: this client's application_name on pg, the run's SET LOCAL tag
 * through the Data API, the running step's text or marker) and the guard's own backend:
 * - `active`: client backends (`backend_type = 'client backend'`) in state `active`;
 * - `waiting`: sessions waiting on a heavyweight lock (`wait_event_type = 'Lock'`).
 *
 * - Over `max-load` before a unit: the run pauses (polls every `pollIntervalMs` on the injected clock, emits
 *   `throttled` with `active=12 > 8`) and goes on once below; the pause counts against the deadline and the
 *   window like any other time. While a build is followed, time over `max-load` is counted as throttled too
 *   (a running CREATE INDEX CONCURRENTLY cannot be paused; the next unit waits).
 * - Over `critical-load`: the run stops between units with status `load_critical` (resumable). A strong-lock
 *   statement still waiting for its lock is cancelled at once (its transaction rolls back); one that holds its
 *   locks is let finish; a running index build is let finish unless the limit says `cancel-builds`.
 * - Lock queue: while offpeak's statement waits for a lock and other sessions queue behind it
 *   (`pg_blocking_pids` of theirs includes offpeak's), for `lockQueueMs` or longer (default 1 s, below the
 *   strong-lock lock_timeout), the statement is cancelled and retried with the lock-timeout backoff.
 *
 * The watch during a unit needs a second session: it runs on pg and the Data API, not on PGlite (one
 * connection, where nothing else can load the database anyway).
 */
import type { SqlClient } from '../db/client.ts';
import { sqlStateOf } from '../db/sqlstate.ts';
import { sql } from '../db/sql.ts';
import { ConfigError, LoadCriticalError } from '../errors.ts';
import type { MigrationEvent } from './events.ts';

/** Thresholds of one level: the load is over it when any given count is strictly above its threshold. */
export interface LoadLimit {
  active?: number;
  waiting?: number;
  /** critical-load only: cancel a running index build too (it is let finish otherwise). */
  cancelBuilds?: boolean;
}

export interface LoadGuardOptions {
  maxLoad?: LoadLimit | undefined;
  criticalLoad?: LoadLimit | undefined;
  /** How often load is read while throttled. Default 5000 ms. */
  pollIntervalMs?: number;
  /** How often the watch reads load and the lock queue while a unit runs. Default 250 ms. */
  watchIntervalMs?: number;
  /** Sessions may queue behind offpeak's waiting statement this long before it is cancelled and retried. Default 1000 ms. */
  lockQueueMs?: number;
}

export const DEFAULT_LOAD_POLL_MS = 5000;
export const DEFAULT_LOCK_QUEUE_MS = 1000;
const DEFAULT_WATCH_MS = 250;

export interface LoadSample {
  active: number;
  waiting: number;
}

export type LoadVerdict = { level: 'ok' } | { level: 'max' | 'critical'; reason: string };

const LOAD_FORM = 'active=N[,waiting=M]';

/**
 * Parses `active=N[,waiting=M]` (critical-load also takes `,cancel-builds`). `option` names the flag or
 * setting in the error, which names the bad part and the expected form.
 */
export function parseLoadLimit(text: string, option: string, { critical = false } = {}): LoadLimit {
  const form = critical ? `${LOAD_FORM}[,cancel-builds]` : LOAD_FORM;
  const fail = (why: string) => new ConfigError(`${option} ${JSON.stringify(text)}: ${why}; expected ${form}, e.g. ${critical ? 'active=40,waiting=10' : 'active=8,waiting=4'}`, { context: { option, value: text } });
  const limit: LoadLimit = {};
  const parts = text.split(',').map((p) => p.trim());
  if (!text.trim()) throw fail('empty');
  for (const part of parts) {
    if (part === 'cancel-builds') {
      if (!critical) throw fail('cancel-builds belongs to --critical-load (max-load never cancels anything)');
      limit.cancelBuilds = true;
      continue;
    }
    const m = /^(active|waiting)=(.*)$/.exec(part);
    if (!m) throw fail(`${JSON.stringify(part)} is not active=N, waiting=M${critical ? ' or cancel-builds' : ''}`);
    const key = m[1] as 'active' | 'waiting';
    if (!/^\d{1,6}$/.test(m[2]!)) throw fail(`${key} must be a whole number of sessions (0 or more), got ${JSON.stringify(m[2])}`);
    if (limit[key] !== undefined) throw fail(`${key} is given twice`);
    limit[key] = Number(m[2]);
  }
  if (limit.active === undefined && limit.waiting === undefined) throw fail('no threshold given');
  return limit;
}

/** The limit as the option text, e.g. `active=8,waiting=4` (for logs and the notice). */
export function formatLoadLimit(limit: LoadLimit): string {
  return [limit.active !== undefined ? `active=${limit.active}` : '', limit.waiting !== undefined ? `waiting=${limit.waiting}` : '', limit.cancelBuilds ? 'cancel-builds' : '']
    .filter(Boolean)
    .join(',');
}

/** Why `sample` is over `limit` (`active=12 > 8, waiting=5 > 4`), or undefined when it is not. */
export function overLimit(sample: LoadSample, limit: LoadLimit | undefined): string | undefined {
  if (!limit) return undefined;
  const over = (['active', 'waiting'] as const).filter((k) => limit[k] !== undefined && sample[k] > limit[k]!).map((k) => `${k}=${sample[k]} > ${limit[k]}`);
  return over.length ? over.join(', ') : undefined;
}

/** critical-load wins over max-load. */
export function judgeLoad(sample: LoadSample, options: Pick<LoadGuardOptions, 'maxLoad' | 'criticalLoad'>): LoadVerdict {
  const critical = overLimit(sample, options.criticalLoad);
  if (critical) return { level: 'critical', reason: critical };
  const max = overLimit(sample, options.maxLoad);
  return max ? { level: 'max', reason: max } : { level: 'ok' };
}

/** Who offpeak is in pg_stat_activity: the run's tag (or this client's application_name), and its running statement. */
export interface OwnSessions {
  applicationName: string | undefined;
  statement?: string | undefined;
  marker?: string | undefined;
}

function ownExpr(own: OwnSessions) {
  const text = own.statement ?? null;
  const prefix = own.marker ?? null;
  return sql`coalesce((a.application_name = coalesce(${own.applicationName ?? null}::text, current_setting('application_name')) AND a.application_name LIKE 'offpeak:%')
    OR a.query = ${text}::text OR starts_with(a.query, ${prefix}::text) OR starts_with(a.query, '/* offpeak step '), false)`;
}

/** The load now: one statement. */
export async function readLoad(client: SqlClient, own: OwnSessions): Promise<LoadSample> {
  return (await readWatch(client, own)).sample;
}

interface WatchRow {
  sample: LoadSample;
  /** offpeak's backend waiting for a lock, if any. */
  waitingPid: number | null;
  /** Sessions queued behind it. */
  queued: number;
}

async function readWatch(client: SqlClient, own: OwnSessions): Promise<WatchRow> {
  const { rows } = await client.query<{ active: number; waiting: number; waiting_pid: number | null; queued: number }>(sql`
    WITH s AS (
      SELECT a.pid, a.state, a.backend_type, a.wait_event_type, ${ownExpr(own)} AS own
      FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid() AND a.datname = current_database()),
    w AS (SELECT pid FROM s WHERE own AND state = 'active' AND wait_event_type = 'Lock')
    SELECT count(*) FILTER (WHERE NOT own AND state = 'active' AND backend_type = 'client backend')::int AS active,
           count(*) FILTER (WHERE NOT own AND wait_event_type = 'Lock')::int AS waiting,
           (SELECT min(pid) FROM w) AS waiting_pid,
           (SELECT count(*) FROM s b WHERE NOT b.own AND b.wait_event_type = 'Lock' AND EXISTS (SELECT 1 FROM w WHERE w.pid = ANY (pg_blocking_pids(b.pid))))::int AS queued
    FROM s`.idempotent());
  const r = rows[0]!;
  return { sample: { active: r.active, waiting: r.waiting }, waitingPid: r.waiting_pid, queued: r.queued };
}

/** What the guard needs of an advance call (a CallContext has it all). */
export interface GuardedCall {
  runId: string;
  deadline: Date | undefined;
  windowCloses?: Date | undefined;
  statement?: string | undefined;
  marker?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Set by the lock-queue watch just before it cancels the statement: the cancel is a lock retry, not a failure. */
  lockQueueCancel?: boolean | undefined;
}

export interface LoadGuardDeps {
  client: SqlClient;
  applicationName: string | undefined;
  emit: (event: MigrationEvent) => void;
  nowMs: () => number;
  sleep: (ms: number) => Promise<void>;
  marginMs: number;
}

export type BeforeUnit = 'go' | 'deadline' | 'window_closed' | { critical: string };

export interface LoadGuard {
  readonly enabled: boolean;
  /** Waits while over max-load; says go, stop (deadline, window), or critical. */
  beforeUnit(call: GuardedCall): Promise<BeforeUnit>;
  /** Runs a unit under the watch (critical-load, lock queue, throttled time while a build runs). */
  watch<T>(call: GuardedCall, unit: { strong: boolean; build: boolean }, run: () => Promise<T>): Promise<T>;
  /** Milliseconds this guard spent over max-load (before units, and while builds ran). */
  throttledMs(): number;
}

/**
 * A guard for one advance call. `abort` is called with a LoadCriticalError when the watch must stop what
 * runs (the runner's interrupt path cancels the statement and leaves the run resumable).
 */
export function createLoadGuard(deps: LoadGuardDeps, options: LoadGuardOptions | undefined, abort: (reason: LoadCriticalError) => void): LoadGuard {
  const enabled = Boolean(options?.maxLoad || options?.criticalLoad);
  const opts = options ?? {};
  const pollMs = opts.pollIntervalMs ?? DEFAULT_LOAD_POLL_MS;
  const watchMs = opts.watchIntervalMs ?? DEFAULT_WATCH_MS;
  const queueMs = opts.lockQueueMs ?? DEFAULT_LOCK_QUEUE_MS;
  let throttled = 0;
  const own = (call: GuardedCall): OwnSessions => ({ applicationName: deps.applicationName, statement: call.statement, marker: call.marker });

  function stopNear(call: GuardedCall): 'deadline' | 'window_closed' | undefined {
    const t = deps.nowMs();
    if (call.windowCloses && call.windowCloses.getTime() - t < deps.marginMs) return 'window_closed';
    if (call.deadline && call.deadline.getTime() - t < deps.marginMs) return 'deadline';
    return undefined;
  }

  async function beforeUnit(call: GuardedCall): Promise<BeforeUnit> {
    if (!enabled) return 'go';
    let since: number | undefined;
    const released = () => {
      if (since !== undefined) deps.emit({ event: 'throttle_released', runId: call.runId, throttledMs: deps.nowMs() - since });
    };
    for (let last = deps.nowMs(); ; ) {
      const sample = await readLoad(deps.client, own(call));
      const now = deps.nowMs();
      if (since !== undefined) throttled += now - last;
      last = now;
      const verdict = judgeLoad(sample, opts);
      if (verdict.level === 'critical') {
        released();
        deps.emit({ event: 'load_critical', runId: call.runId, reason: verdict.reason, action: 'stopped before the next unit' });
        return { critical: verdict.reason };
      }
      if (verdict.level === 'ok') {
        released();
        return 'go';
      }
      since ??= now;
      deps.emit({ event: 'throttled', runId: call.runId, reason: verdict.reason, ...sample, during: 'before_unit' });
      const stop = stopNear(call);
      if (stop) return stop;
      if (call.signal?.aborted) return 'go'; // the runner sees the interrupt next
      await deps.sleep(pollMs);
    }
  }

  async function watch<T>(call: GuardedCall, unit: { strong: boolean; build: boolean }, run: () => Promise<T>): Promise<T> {
    if (!enabled || deps.client.dialect === 'pglite' || !(unit.strong || unit.build)) return run();
    let done = false;
    let wake: () => void = () => {};
    const ended = new Promise<void>((resolve) => (wake = resolve));
    const loop = async () => {
      let queuedSince: number | undefined;
      let overSince: number | undefined;
      let criticalSaid = false;
      let saidReason: string | undefined;
      while (!done) {
        await Promise.race([deps.sleep(watchMs), ended]);
        if (done) break;
        const read = await readWatch(deps.client, own(call)).catch(() => undefined);
        if (!read || done) continue;
        // Only a strong-lock statement's lock wait counts (a build's waits are its own business).
        const seen = unit.strong ? read : { ...read, waitingPid: null };
        const now = deps.nowMs();
        const verdict = judgeLoad(seen.sample, opts);
        if (verdict.level === 'critical') {
          const cancelBuild = unit.build && opts.criticalLoad?.cancelBuilds === true;
          if (seen.waitingPid !== null || cancelBuild) {
            deps.emit({ event: 'load_critical', runId: call.runId, reason: verdict.reason, action: cancelBuild ? 'cancelled the index build' : 'cancelled the statement waiting for its lock' });
            abort(new LoadCriticalError(verdict.reason));
            return;
          }
          if (!criticalSaid) deps.emit({ event: 'load_critical', runId: call.runId, reason: verdict.reason, action: 'letting the running statement finish' });
          criticalSaid = true;
        }
        if (unit.build && verdict.level !== 'ok') {
          if (overSince !== undefined) throttled += now - overSince;
          overSince = now;
          // One line per change, not one per poll.
          if (verdict.reason !== saidReason) deps.emit({ event: 'throttled', runId: call.runId, reason: verdict.reason, ...seen.sample, during: 'build' });
          saidReason = verdict.reason;
        } else {
          if (overSince !== undefined) throttled += now - overSince;
          overSince = saidReason = undefined;
        }
        if (seen.waitingPid !== null && seen.queued > 0) {
          queuedSince ??= now;
          if (now - queuedSince >= queueMs) {
            call.lockQueueCancel = true;
            deps.emit({ event: 'lock_queue_cancelled', runId: call.runId, pid: seen.waitingPid, queued: seen.queued, queuedMs: now - queuedSince });
            await deps.client.query(sql`SELECT pg_cancel_backend(${seen.waitingPid}::int)`).catch(() => undefined);
            queuedSince = undefined;
          }
        } else queuedSince = undefined;
      }
      if (overSince !== undefined) throttled += deps.nowMs() - overSince;
    };
    const watching = loop();
    try {
      return await run();
    } finally {
      done = true;
      wake();
      await watching;
      call.lockQueueCancel = false;
    }
  }

  return { enabled, beforeUnit, watch, throttledMs: () => throttled };
}

/** The hook for a failed strong-lock attempt: true (once) when the lock-queue watch cancelled it, so it is retried like a lock timeout. */
export function cancelledForLockQueue(call: GuardedCall, error: unknown): boolean {
  if (!call.lockQueueCancel) return false;
  call.lockQueueCancel = false;
  return sqlStateOf(error) === '57014';
}

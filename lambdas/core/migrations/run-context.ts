/**
 * What every room of the runner shares: the client, the graph, the ledger, the clock, the event log and
 * the retry policy (`RunContext`, one per migrator), and what one advance call knows (`CallContext`: the
 * run, its deadline, the conditions checked so far, the durations to record at its end).
 *
 * Every duration and deadline is read from the injected clock (`now`), never from `Date.now()`.
 */
import type { SqlClient } from '../db/client.ts';
import { sqlStateOf } from '../db/sqlstate.ts';
import { sql } from '../db/sql.ts';
import { MigrationFailedError } from '../errors.ts';
import type { MigrationEvent, MigrationEventListener } from './events.ts';
import type { MigrationGraph } from './graph.ts';
import type { AppliedRecord, Direction, Ledger } from './ledger.ts';
import type { LoadGuardOptions } from './load-guard.ts';
import type { LoadedMigration, Step } from './model.ts';
import { migrationTables, type PlanUnit } from './planner.ts';
import { errorText, type StandaloneContext } from './standalone.ts';

export interface MigratorOptions {
  client: SqlClient;
  migrations: readonly LoadedMigration[];
  /** Ledger schema. Default 'offpeak'. */
  schema?: string;
  /** Who runs this (recorded in the ledger): e.g. 'cli:alice@host', 'lambda:offpeak-migrate'. */
  actor?: string;
  /** Lease owner id; default actor + a random suffix, unique per migrator. */
  owner?: string;
  onEvent?: MigrationEventListener;
  /** lock_timeout for strong-lock DDL inside transactions. Default 3000 ms. */
  lockTimeoutMs?: number;
  /** Attempts for a strong-lock transaction that hits 55P03. Default 5. */
  lockAttempts?: number;
  /** First backoff delay after 55P03; doubles each attempt (with jitter), capped at 10 s. Default 250 ms. */
  retryBaseMs?: number;
  /** Attempts to get a valid index out of a create_index step. Default 3. */
  indexBuildAttempts?: number;
  leaseTtlMs?: number;
  /** Catalog polling interval for still-running statements. Default 1000 ms. */
  pollIntervalMs?: number;
  /** advance() stops when fewer than this many ms remain before the deadline (or the window closes). Default 15 000. */
  deadlineMarginMs?: number;
  /**
   * The longest one statement may run (the Data API's 45 s): a transactional unit starts only when its
   * statements fit before the deadline at this much each (transactional-unit.ts). Default: the client's
   * `statementTimeoutMs`, else 0 (pg and PGlite have no call limit).
   */
  statementTimeoutMs?: number;
  /** max-load / critical-load and the lock-queue watch (load-guard.ts). Off when neither limit is set. */
  loadGuard?: LoadGuardOptions;
  /** Clock and sleep, injectable for tests. */
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

/** One migrator's shared state and policy. */
export interface RunContext {
  client: SqlClient;
  graph: MigrationGraph;
  ledger: Ledger;
  actor: string;
  emit: (event: MigrationEvent) => void;
  now: () => Date;
  /** Milliseconds on the injected clock. */
  nowMs: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Delay before retry `attempt` (1-based): exponential with jitter. */
  backoff: (attempt: number) => number;
  lockTimeoutMs: number;
  lockAttempts: number;
  indexBuildAttempts: number;
  pollIntervalMs: number;
  marginMs: number;
  statementTimeoutMs: number;
  /**
   * Through the Data API: the application_name each transaction of the run sets (SET LOCAL), which the lease
   * records as its holder's proof (lease.ts). Undefined elsewhere (pg tags its connections; PGlite needs none).
   */
  applicationName: string | undefined;
}

export function createRunContext(options: MigratorOptions, graph: MigrationGraph, ledger: Ledger, applicationName?: string): RunContext {
  const retryBaseMs = options.retryBaseMs ?? 250;
  const now = options.now ?? (() => new Date());
  return {
    client: options.client,
    graph,
    ledger,
    actor: options.actor ?? 'offpeak',
    emit: (event) => options.onEvent?.(event),
    now,
    nowMs: () => now().getTime(),
    sleep: options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    backoff: (attempt) => Math.min(10_000, retryBaseMs * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5),
    lockTimeoutMs: options.lockTimeoutMs ?? 3000,
    lockAttempts: options.lockAttempts ?? 5,
    indexBuildAttempts: options.indexBuildAttempts ?? 3,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    marginMs: options.deadlineMarginMs ?? 15_000,
    statementTimeoutMs: options.statementTimeoutMs ?? options.client.statementTimeoutMs ?? 0,
    applicationName,
  };
}

/** What one advance call knows as it runs units. */
export interface CallContext extends StandaloneContext {
  /** The run's position when the call began: the unit there is the call's first (it may always start). */
  firstPosition: number;
  /** What runs now, for an interrupt: the unit's description, its step, and a standalone statement's text and marker. */
  what?: string | undefined;
  step?: { revision: string; direction: Direction; step: number } | undefined;
  statement?: string | undefined;
  marker?: string | undefined;
  /** Set by the load guard's lock-queue watch as it cancels the waiting statement: retried like a lock timeout. */
  lockQueueCancel?: boolean | undefined;
  /**
   * When each migration this call worked on started (injected clock, ms), keyed `revision:direction`: a
   * migration's duration runs from its first step's start to its last step's end, across calls.
   */
  migrationStarts?: Map<string, number>;
  /** Extensions available on the server, read once per call when a conditional step needs them. */
  extensions: Set<string> | undefined;
  /** Durations of migrations applied by this call in one transaction, recorded by its final ledger write. */
  durations: Array<{ revision: string; durationMs: number }>;
}

/**
 * When the migration of a unit started, on the injected clock: now for its first step (unless an earlier call
 * may have started it), else from the ledger (`elapsedSinceFirstStep`), read once per call and migration.
 */
export async function migrationStartMs(rc: RunContext, call: CallContext, unit: PlanUnit): Promise<number> {
  const key = `${unit.revision}:${unit.direction}`;
  call.migrationStarts ??= new Map();
  let start = call.migrationStarts.get(key);
  if (start === undefined) {
    const fresh = unit.kind !== 'step' || (unit.step === 0 && !call.mayBeRunning);
    const elapsed = fresh ? null : await rc.ledger.elapsedSinceFirstStep(call.runId, unit.revision, unit.direction);
    start = rc.nowMs() - Math.max(0, elapsed ?? 0);
    call.migrationStarts.set(key, start);
  }
  return start;
}

/** Whether a conditional step's condition holds (pg_available_extensions, read once per call). */
export async function conditionMet(rc: RunContext, call: CallContext, step: Step): Promise<boolean> {
  if (!step.when) return true;
  if (!call.extensions) {
    const { rows } = await rc.client.query<{ name: string }>(sql`SELECT name FROM pg_available_extensions`.idempotent());
    call.extensions = new Set(rows.map((r) => r.name));
  }
  return call.extensions.has(step.when.extensionAvailable);
}

export const skipReason = (step: Step) => `extension ${step.when?.extensionAvailable} is not available`;

/** The applied_migrations record of a migration. */
export function appliedRecord(rc: RunContext, m: LoadedMigration, durationMs: number, recordedOnly: boolean): AppliedRecord {
  return {
    revision: m.revision,
    checksum: m.checksum,
    durationMs,
    actor: rc.actor,
    description: m.description,
    recordedOnly,
    tables: migrationTables(m, 'up'),
  };
}

/** The applied-record (up) or unapplied list (down) for a migration's final unit. */
export function finishEntry(rc: RunContext, unit: PlanUnit, durationMs: number) {
  const m = rc.graph.get(unit.revision);
  return unit.direction === 'up' ? { applied: [appliedRecord(rc, m, durationMs, false)] } : { unapplied: [m.revision, ...m.replaces] };
}

/** Journals a failed step (best effort: the failure is what matters) and returns the run's error. */
export async function failStep(rc: RunContext, runId: string, m: LoadedMigration, direction: Direction, step: number, error: unknown): Promise<MigrationFailedError> {
  const message = errorText(error);
  const sqlState = sqlStateOf(error) ?? null;
  // A room that journaled the failure itself (with its cause, or as `unknown`) says so: no second event.
  const journaled = error instanceof MigrationFailedError && error.context['journaled'] === true;
  if (!journaled) await rc.ledger.journal(rc.client, { runId, events: [{ revision: m.revision, direction, step, status: 'failed', error: message, sqlState }] }).catch(() => {});
  rc.emit({ event: 'step_failed', runId, revision: m.revision, direction, step, error: message, sqlState: sqlState ?? sqlStateOf(error instanceof MigrationFailedError ? error.cause : undefined) });
  if (error instanceof MigrationFailedError) return error;
  return new MigrationFailedError(`${m.file} (${m.revision}) ${direction} step ${step + 1} failed: ${message}`, {
    revision: m.revision,
    step,
    direction,
    cause: error,
    context: { file: m.file },
  });
}

/**
 * The migration runner: the library the CLI, the Lambda handlers and the tests all use.
 *
 * `createMigrator({ client, migrations, ... })` validates the graph (throws MigrationGraphError) and returns:
 * - reads (take no lease, create nothing): `status()`, `current()`, `history()`, `check()`, `plan()`,
 *   `previewSql()`;
 * - writes (take the lease, create the ledger if missing): `start()`, `advance()`, `runToCompletion()`, `stamp()`.
 *
 * Runs: `start(direction, target)` plans against the ledger and stores the plan as a run (or resumes the
 * unfinished run for the same direction and target when its migrations are unchanged); `advance(runId,
 * { deadline, window })` executes plan units until done, failed, the deadline nears (it stops between units,
 * keeping `deadlineMarginMs`) or the window closes, and returns an AdvanceResult; the next call resumes from
 * the stored position. `runToCompletion` does both, looping while `in_progress`.
 *
 * Policy:
 * - A migration whose steps are all transactional runs in ONE transaction together with its bookkeeping.
 *   The bookkeeping write and the first step are one statement (the write calls the ledger's
 *   `execute_step`, which first sets the transaction's lock_timeout when a step takes a strong lock, default
 *   3 s), so the cost is BEGIN + steps + COMMIT, and a single-step migration is that one statement, atomic
 *   without BEGIN/COMMIT. The whole is retried with exponential backoff on SQLSTATE 55P03 (default 5
 *   attempts). Its applied row's duration_ms is written by the advance call's final ledger write.
 * - Standalone steps run autocommit, one at a time, each journaled when done (standalone.ts: an index build
 *   costs its statement + 1, another standalone step its statement + 2; builds are checked in the catalog,
 *   INVALID leftovers rebuilt, still-running statements followed to the deadline). Outside a transaction
 *   there is no session state over the Data API, so no `SET lock_timeout` can carry to the statement:
 *   CONCURRENTLY work runs under the server's or the role's lock_timeout. Keep that 0 (the default) or long
 *   for the migration role (`ALTER ROLE … SET lock_timeout = 0`); a short one cancels CIC waits and leaves
 *   an INVALID index, which the runner then drops and rebuilds.
 * - Standalone raw SQL steps must be idempotent (e.g. `ALTER TYPE … ADD VALUE IF NOT EXISTS`): a run
 *   killed while one was running cannot know whether it committed, so the step is run again on resume.
 * - Conditional steps (`when.extensionAvailable`) are checked against pg_available_extensions once per
 *   advance call; unmet ones are journaled `skipped` and reported.
 * - When a run finishes it ANALYZEs every table its migrations touched (index steps know their table, SQL
 *   steps declare `tables`) and checks that every index it created exists and is valid; a missing or
 *   invalid index fails the run.
 */
import { randomUUID } from 'node:crypto';
import type { SqlClient, SqlExecutor } from '../db/client.ts';
import { LOCK_RETRY_SQLSTATES, sqlStateOf } from '../db/sqlstate.ts';
import { sql, SqlQuery } from '../db/sql.ts';
import { ConfigError, LeaseHeldError, MigrationFailedError, MigrationGraphError } from '../errors.ts';
import { closesAt, isOpen, type OffpeakWindow } from '../window.ts';
import type { MigrationEvent, MigrationEventListener } from './events.ts';
import { MigrationGraph } from './graph.ts';
import { Lease, DEFAULT_LEASE_TTL_MS } from './lease.ts';
import { createStandaloneSteps, errorText, qualified, stepSql, type StandaloneContext, type StepJournal } from './standalone.ts';
import { DEFAULT_LEDGER_SCHEMA, Ledger, type AppliedRecord, type AppliedRow, type Direction, type RunStatus, type StepEvent } from './ledger.ts';
import type { LoadedMigration, Step } from './model.ts';
import {
  adoptedRevisions,
  buildPlan,
  migrationTables,
  previewStatements,
  renderPreview,
  stepTables,
  unitSteps,
  type Plan,
  type PlanUnit,
  type PreviewStatement,
} from './planner.ts';

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
  /** Clock and sleep, injectable for tests. */
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

export interface AdvanceOptions {
  /** Stop between units when the deadline is within deadlineMarginMs. */
  deadline?: Date;
  /** Stop between units when the window is closed or closes within deadlineMarginMs. */
  window?: OffpeakWindow;
}

export interface SkippedStep {
  revision: string;
  direction: Direction;
  step: number;
  reason: string;
}

export interface IndexCheck {
  schema: string;
  name: string;
  exists: boolean;
  valid: boolean;
}

export interface Verification {
  /** 'schema.table' for every table ANALYZEd. */
  analyzed: string[];
  indexes: IndexCheck[];
  ok: boolean;
}

export type AdvanceStatus = 'done' | 'in_progress' | 'window_closed' | 'failed';

export interface AdvanceResult {
  status: AdvanceStatus;
  runId: string;
  direction: Direction;
  target: string;
  /** Revisions this call finished (applied going up, reverted going down), in order. */
  applied: string[];
  /** Revisions recorded without running (adoption, squash) by this call. */
  recorded: string[];
  /** The next unit to run, when not done. */
  next: { revision: string; step: number | null; description: string } | null;
  /** Position in the plan after this call, and plan length. */
  position: number;
  total: number;
  /** Steps skipped by the whole run so far (unmet conditions). */
  skipped: SkippedStep[];
  /** Present when the run finished. */
  verification?: Verification;
  error?: { message: string; revision?: string; step?: number; sqlState?: string };
}

export interface StatusReport {
  /** Applied heads (from the ledger, or from alembic_version when the ledger is empty). */
  current: string[];
  heads: string[];
  /** Pending migrations on the way to every head, in order. */
  pending: string[];
  /** 'alembic' when `current` comes from alembic_version because the ledger is empty. */
  adoptedFrom: 'alembic' | null;
}

export interface HistoryEntry {
  revision: string;
  downRevisions: string[];
  file: string;
  description: string;
  risk: LoadedMigration['risk'];
  rollbackPlan: string | undefined;
  replaces: string[];
  isHead: boolean;
  isMerge: boolean;
  applied: boolean;
  /** Ledger row, when applied under its own revision. */
  ledger: AppliedRow | undefined;
  steps: { up: number; down: number };
  transactional: { up: boolean; down: boolean };
}

export interface CheckReport {
  /** Non-fatal findings (file names not matching YYYYMMDDHHMM_short_name.ts, several heads, ...). */
  warnings: string[];
}

export interface Migrator {
  readonly graph: MigrationGraph;
  readonly ledger: Ledger;
  status(): Promise<StatusReport>;
  current(): Promise<string[]>;
  history(): Promise<HistoryEntry[]>;
  /** Graph + ledger checks (applied files present, checksums unchanged). Throws MigrationGraphError. */
  check(): Promise<CheckReport>;
  /** The plan `start` would store, from the current ledger. Reads only. */
  plan(direction: Direction, target: string): Promise<Plan>;
  previewSql(plan: Plan): { statements: PreviewStatement[]; text: string };
  start(direction: Direction, target: string): Promise<{ runId: string; plan: Plan; resumed: boolean }>;
  advance(runId: string, options?: AdvanceOptions): Promise<AdvanceResult>;
  runToCompletion(direction: Direction, target: string, options?: AdvanceOptions): Promise<AdvanceResult>;
  /** Makes the ledger say exactly `target` (and its ancestors) is applied, running nothing. Returns the new current heads. */
  stamp(target: string): Promise<string[]>;
}

interface StoredPlan extends Plan {
  runId: string;
}


export function createMigrator(options: MigratorOptions): Migrator {
  const client = options.client;
  const graph = MigrationGraph.build(options.migrations);
  const schema = options.schema ?? DEFAULT_LEDGER_SCHEMA;
  const ledger = new Ledger(client, schema);
  const actor = options.actor ?? 'offpeak';
  const owner = options.owner ?? `${actor}#${randomUUID().slice(0, 8)}`;
  const lockTimeoutMs = options.lockTimeoutMs ?? 3000;
  const lockAttempts = options.lockAttempts ?? 5;
  const retryBaseMs = options.retryBaseMs ?? 250;
  const indexBuildAttempts = options.indexBuildAttempts ?? 3;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const marginMs = options.deadlineMarginMs ?? 15_000;
  const now = options.now ?? (() => new Date());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const emit = (event: MigrationEvent) => options.onEvent?.(event);
  const lease = new Lease(client, { owner, ttlMs: options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS, schema });

  const backoff = (attempt: number) => Math.min(10_000, retryBaseMs * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
  const standalone = createStandaloneSteps({ client, ledger, lease, emit, now, sleep, backoff, pollIntervalMs, marginMs, lockAttempts, indexBuildAttempts });

  async function ledgerState() {
    const applied = await ledger.applied();
    const alembic = applied.length === 0 ? await ledger.alembicVersions() : undefined;
    return { rows: applied, state: { applied: applied.map((r) => r.revision), alembic } };
  }

  async function status(): Promise<StatusReport> {
    const { rows, state } = await ledgerState();
    graph.verifyLedger(rows);
    const adopted = adoptedRevisions(graph, state);
    const { applied } = graph.appliedState(adopted.length ? adopted : state.applied);
    const current = adopted.length ? [...(state.alembic ?? [])] : currentFromLedger(state.applied);
    const want = graph.ancestors(graph.heads());
    return {
      current,
      heads: graph.heads(),
      pending: graph.order.filter((r) => want.has(r) && !applied.has(r)),
      adoptedFrom: adopted.length ? 'alembic' : null,
    };
  }

  /** Applied heads in ledger terms: the effective applied heads, plus the applied originals of a partial squash. */
  function currentFromLedger(ledgerRevisions: readonly string[]): string[] {
    const { applied, partial } = graph.appliedState(ledgerRevisions);
    const heads = graph.appliedHeads(applied);
    for (const done of partial.values()) heads.push(done[done.length - 1]!);
    return heads;
  }

  async function history(): Promise<HistoryEntry[]> {
    const { rows, state } = await ledgerState();
    const byRevision = new Map(rows.map((r) => [r.revision, r]));
    const adopted = adoptedRevisions(graph, state);
    const { applied } = graph.appliedState(adopted.length ? adopted : state.applied);
    const heads = new Set(graph.heads());
    return [...graph.order].reverse().map((rev) => {
      const m = graph.get(rev);
      return {
        revision: rev,
        downRevisions: m.downRevisions,
        file: m.file,
        description: m.description,
        risk: m.risk,
        rollbackPlan: m.rollbackPlan,
        replaces: m.replaces,
        isHead: heads.has(rev),
        isMerge: m.downRevisions.length > 1,
        applied: applied.has(rev),
        ledger: byRevision.get(rev),
        steps: { up: m.up.length, down: m.down.length },
        transactional: m.transactional,
      };
    });
  }

  async function check(): Promise<CheckReport> {
    const { rows, state } = await ledgerState();
    graph.verifyLedger(rows);
    adoptedRevisions(graph, state);
    const warnings: string[] = [];
    const heads = graph.heads();
    if (heads.length > 1) warnings.push(`several heads: ${heads.map((h) => `${graph.get(h).file} (${h})`).join(', ')}; \`upgrade head\` will refuse until a merge migration exists`);
    for (const m of graph.all.values()) {
      const base = m.file.split(/[\\/]/).pop() ?? m.file;
      if (!/^\d{12}_[a-z0-9_]+\.ts$/.test(base)) warnings.push(`${m.file}: file name should be YYYYMMDDHHMM_short_name.ts`);
      for (const [direction, steps] of [['up', m.up], ['down', m.down]] as const) {
        steps.forEach((s, i) => {
          if (s.kind === 'sql' && s.lock === 'strong' && !s.tables?.length && /^\s*(alter|create|drop|insert|update|delete|truncate)\s+/i.test(s.sql) && !/^\s*(create|drop)\s+(extension|schema|type|function|view)/i.test(s.sql)) {
            warnings.push(`${m.file}: ${direction} step ${i + 1} declares no tables: declare sqlStep(..., { tables }) so the run ANALYZEs them`);
          }
        });
      }
    }
    return { warnings };
  }

  async function plan(direction: Direction, target: string): Promise<Plan> {
    const { rows, state } = await ledgerState();
    graph.verifyLedger(rows);
    return buildPlan(graph, state, direction, target);
  }

  function previewSql(p: Plan) {
    return { statements: previewStatements(graph, p, { lockTimeoutMs }), text: renderPreview(graph, p, { lockTimeoutMs }) };
  }

  // ------------------------------------------------------------ lease handling

  /** Runs fn holding the lease, renewing it on a timer (not on PGlite: one connection, and one process by construction). */
  async function withLease<T>(fn: (lost: () => boolean) => Promise<T>): Promise<T> {
    await ledger.ensure();
    const info = await lease.acquire();
    emit({ event: 'lease_acquired', owner, expiresAt: info.expiresAt });
    let lostError: unknown;
    let timer: ReturnType<typeof setInterval> | undefined;
    if (client.dialect !== 'pglite') {
      timer = setInterval(() => {
        lease.renew().catch((error: unknown) => {
          if (error instanceof LeaseHeldError) lostError = error;
        });
      }, Math.max(200, lease.ttlMs / 3));
      timer.unref?.();
    }
    try {
      return await fn(() => lostError !== undefined);
    } finally {
      if (timer) clearInterval(timer);
      await lease.release().catch(() => {});
    }
  }

  // ------------------------------------------------------------ runs

  function sameMigrations(stored: Plan): boolean {
    return stored.units.every((u) => graph.all.get(u.revision)?.checksum === u.checksum);
  }

  async function startHeld(direction: Direction, target: string): Promise<{ runId: string; plan: Plan; resumed: boolean }> {
    const { rows, state } = await ledgerState();
    graph.verifyLedger(rows);
    const latest = await ledger.latestUnfinishedRun();
    if (latest) {
      const stored = latest.plan as StoredPlan;
      if (latest.direction === direction && latest.target === target && sameMigrations(stored)) {
        await ledger.setRunStatus(latest.runId, 'in_progress', latest.error);
        emit({ event: 'run_started', runId: latest.runId, direction, target, units: stored.units.length, resumed: true });
        return { runId: latest.runId, plan: stored, resumed: true };
      }
      await ledger.setRunStatus(latest.runId, 'abandoned', `superseded by a new ${direction} ${target} run`);
    }
    const p = buildPlan(graph, state, direction, target);
    const runId = randomUUID();
    await ledger.createRun({ runId, target, direction, plan: { ...p, runId }, actor });
    emit({ event: 'run_started', runId, direction, target, units: p.units.length, resumed: false });
    return { runId, plan: p, resumed: false };
  }

  async function start(direction: Direction, target: string) {
    return withLease(() => startHeld(direction, target));
  }

  async function advance(runId: string, opts: AdvanceOptions = {}): Promise<AdvanceResult> {
    return withLease((lost) => advanceHeld(runId, opts, lost));
  }

  async function runToCompletion(direction: Direction, target: string, opts: AdvanceOptions = {}): Promise<AdvanceResult> {
    return withLease(async (lost) => {
      const { runId } = await startHeld(direction, target);
      for (;;) {
        const result = await advanceHeld(runId, opts, lost);
        if (result.status !== 'in_progress' || opts.deadline || opts.window) return result;
      }
    });
  }

  async function stamp(target: string): Promise<string[]> {
    return withLease(async () => {
      const { rows } = await ledgerState();
      graph.verifyLedger(rows);
      let want: Set<string>;
      if (target === 'base') want = new Set();
      else if (target === 'head') want = graph.ancestors([graph.head()!].filter(Boolean));
      else if (target === 'heads') want = graph.ancestors(graph.heads());
      else want = graph.ancestors([graph.resolveRevision(target)]);
      const have = new Set(rows.map((r) => r.revision));
      const runId = `stamp-${randomUUID()}`;
      const add = graph.order.filter((r) => want.has(r) && !have.has(r));
      const remove = rows.map((r) => r.revision).filter((r) => !want.has(graph.replacedBy.get(r) ?? r));
      const events: StepEvent[] = [
        ...add.map((r) => ({ revision: r, direction: 'up' as const, step: -1, status: 'recorded' as const })),
        ...remove.map((r) => ({ revision: r, direction: 'down' as const, step: -1, status: 'recorded' as const })),
      ];
      await ledger.journal(client, {
        runId,
        events,
        unapplied: remove,
        applied: add.map((r) => record(graph.get(r), 0, true)),
      });
      for (const r of add) emit({ event: 'migration_recorded', runId, revision: r, reason: 'stamp' });
      return graph.appliedHeads(want);
    });
  }

  function record(m: LoadedMigration, durationMs: number, recordedOnly: boolean, tables?: Array<[string, string]>): AppliedRecord {
    return {
      revision: m.revision,
      checksum: m.checksum,
      durationMs,
      actor,
      description: m.description,
      recordedOnly,
      tables: tables ?? migrationTables(m, 'up'),
    };
  }

  // ------------------------------------------------------------ advance

  async function advanceHeld(runId: string, opts: AdvanceOptions, leaseLost: () => boolean): Promise<AdvanceResult> {
    const run = await ledger.getRun(runId);
    if (!run) throw new ConfigError(`unknown run ${runId}`, { context: { runId } });
    const stored = run.plan as StoredPlan;
    const base = {
      runId,
      direction: run.direction,
      target: run.target,
      applied: [] as string[],
      recorded: [] as string[],
      total: stored.units.length,
    };
    if (run.status === 'abandoned') {
      throw new ConfigError(`run ${runId} was abandoned (${run.error ?? 'superseded'}); start a new one`, { context: { runId } });
    }
    const rows = await ledger.applied();
    graph.verifyLedger(rows);
    if (!sameMigrations(stored)) {
      throw new MigrationGraphError(`run ${runId}: a migration in its plan changed since the run started; start a new run`, { context: { runId } });
    }

    const skippedSoFar = async () =>
      (await ledger.events(runId))
        .filter((e) => e.status === 'skipped')
        .map((e) => ({ revision: e.revision, direction: e.direction, step: e.step, reason: e.error ?? 'condition not met' }));

    const nextOf = (position: number): AdvanceResult['next'] => {
      const u = stored.units[position];
      if (!u) return null;
      const steps = unitSteps(graph, u);
      return {
        revision: u.revision,
        step: u.kind === 'step' ? u.step : null,
        description: u.kind === 'step' ? steps[0]!.step.description : graph.get(u.revision).description,
      };
    };

    const stop = async (position: number, status: Exclude<AdvanceStatus, 'done' | 'failed'>, reason: 'deadline' | 'window_closed') => {
      const runStatus: RunStatus = status === 'window_closed' ? 'window_closed' : 'in_progress';
      await ledger.journal(client, { runId, durations: ctx.durations, run: { status: runStatus, error: null } });
      emit({ event: 'run_stopped', runId, status: runStatus, reason });
      return { ...base, status, position, next: nextOf(position), skipped: await skippedSoFar() } satisfies AdvanceResult;
    };

    // The first unit of a call may be one an earlier call or a killed run left running on the server.
    const ctx: UnitContext = { runId, deadline: opts.deadline, mayBeRunning: true, extensions: undefined, durations: [] };
    let position = run.position;
    try {
      while (position < stored.units.length) {
        if (leaseLost()) throw new LeaseHeldError('another run', new Date(), { context: { runId, reason: 'lease lost: heartbeat failed' } });
        const t = now().getTime();
        if (opts.window) {
          const closes = closesAt(opts.window, now());
          if (!isOpen(opts.window, now()) || !closes || closes.getTime() - t < marginMs) return await stop(position, 'window_closed', 'window_closed');
        }
        if (opts.deadline && opts.deadline.getTime() - t < marginMs) return await stop(position, 'in_progress', 'deadline');

        const unit = stored.units[position]!;
        const outcome = await runUnit(ctx, unit, position);
        if (outcome === 'deadline') return await stop(position, 'in_progress', 'deadline');
        ctx.mayBeRunning = false;
        position++;
        if (unit.kind === 'record') base.recorded.push(unit.revision);
        else if (unit.kind === 'migration' || unit.last) base.applied.push(unit.revision);
      }
    } catch (error) {
      // Anything but a failed step (connection lost, lease lost, a bug) leaves the run resumable as it is.
      if (!(error instanceof MigrationFailedError)) throw error;
      await ledger.journal(client, { runId, durations: ctx.durations, run: { position, status: 'failed', error: error.message } });
      emit({ event: 'run_stopped', runId, status: 'failed', reason: 'failed' });
      const sqlState = sqlStateOf(error.cause);
      return {
        ...base,
        status: 'failed',
        position,
        next: nextOf(position),
        skipped: await skippedSoFar(),
        error: { message: error.message, revision: error.revision, step: error.step, ...(sqlState ? { sqlState } : {}) },
      };
    }

    const skipped = await skippedSoFar();
    const verification = await verify(runId, stored, skipped);
    const ok = verification.ok;
    const error = ok ? null : `verification failed: ${verification.indexes.filter((i) => !i.valid).map((i) => `${i.schema}.${i.name} ${i.exists ? 'is INVALID' : 'is missing'}`).join(', ')}`;
    await ledger.journal(client, { runId, durations: ctx.durations, run: { status: ok ? 'done' : 'failed', error } });
    emit({ event: 'run_stopped', runId, status: ok ? 'done' : 'failed', reason: ok ? 'done' : 'failed' });
    return {
      ...base,
      status: ok ? 'done' : 'failed',
      position,
      next: null,
      skipped,
      verification,
      ...(error ? { error: { message: error } } : {}),
    };
  }

  interface UnitContext extends StandaloneContext {
    extensions: Set<string> | undefined;
    /** Durations of migrations applied by this call in one transaction, recorded by its final ledger write. */
    durations: Array<{ revision: string; durationMs: number }>;
  }

  async function conditionMet(ctx: UnitContext, step: Step): Promise<boolean> {
    if (!step.when) return true;
    if (!ctx.extensions) {
      const { rows } = await client.query<{ name: string }>(sql`SELECT name FROM pg_available_extensions`);
      ctx.extensions = new Set(rows.map((r) => r.name));
    }
    return ctx.extensions.has(step.when.extensionAvailable);
  }

  const skipReason = (step: Step) => `extension ${step.when?.extensionAvailable} is not available`;

  /** The applied-record (up) or unapplied list (down) for a migration's final unit. */
  function finish(unit: PlanUnit, durationMs: number) {
    const m = graph.get(unit.revision);
    return unit.direction === 'up'
      ? { applied: [record(m, durationMs, false)] }
      : { unapplied: [m.revision, ...m.replaces] };
  }

  async function runUnit(ctx: UnitContext, unit: PlanUnit, position: number): Promise<'done' | 'deadline'> {
    const { runId } = ctx;
    if (unit.kind === 'record') {
      const m = graph.get(unit.revision);
      await ledger.journal(client, {
        runId,
        events: [{ revision: m.revision, direction: 'up', step: -1, status: 'recorded', error: unit.reason }],
        applied: [record(m, 0, true)],
        run: { position: position + 1 },
      });
      emit({ event: 'migration_recorded', runId, revision: m.revision, reason: unit.reason });
      return 'done';
    }
    const m = graph.get(unit.revision);
    const steps = unitSteps(graph, unit);
    if (unit.kind === 'migration' || unit.step === 0) {
      emit({ event: 'migration_started', runId, revision: m.revision, direction: unit.direction, file: m.file, description: m.description });
    }
    const isLast = unit.kind === 'migration' || unit.last;
    const inTransaction = unit.kind === 'migration' || steps[0]!.step.mode === 'transactional';

    if (inTransaction) {
      const met = new Map<number, boolean>();
      for (const { index, step } of steps) met.set(index, await conditionMet(ctx, step));
      const strong = steps.some(({ step, index }) => met.get(index) && step.lock === 'strong');
      for (let attempt = 1; ; attempt++) {
        let current = steps[0]!.index;
        const started = Date.now();
        try {
          const durations = new Map<number, number>();
          const metSteps = steps.filter(({ index }) => met.get(index));
          const apply = async (executor: SqlExecutor) => {
            // The bookkeeping and the first step are ONE statement: the journal write runs the step through
            // execute_step, which first sets `lock_timeout` for the transaction when a step takes a strong lock.
            // Both commit together or not at all, and the bookkeeping costs no round trip of its own. Step and
            // migration durations are not known yet: done events carry none, and the applied row's duration_ms
            // is rewritten by the advance call's final ledger write (ctx.durations).
            const events: StepEvent[] = steps.map(({ index, step }) =>
              met.get(index)
                ? { revision: m.revision, direction: unit.direction, step: index, status: 'done' }
                : { revision: m.revision, direction: unit.direction, step: index, status: 'skipped', error: skipReason(step) },
            );
            const [first, ...rest] = metSteps;
            const lockTimeout = strong ? `${Math.max(1, Math.round(lockTimeoutMs))}ms` : null;
            if (first) {
              current = first.index;
              emit({ event: 'step_started', runId, revision: m.revision, direction: unit.direction, step: first.index, description: first.step.description, mode: 'transactional' });
            }
            const t0 = Date.now();
            await ledger.journal(
              executor,
              { runId, events, ...(isLast ? finish(unit, 0) : {}), run: { position: position + 1 } },
              first ? { select: sql`SELECT ${ledger.executeStep(first.step.sql, lockTimeout)} AS ok` } : {},
            );
            if (first) durations.set(first.index, Date.now() - t0);
            for (const { index, step } of rest) {
              current = index;
              emit({ event: 'step_started', runId, revision: m.revision, direction: unit.direction, step: index, description: step.description, mode: 'transactional' });
              const t1 = Date.now();
              await executor.query(stepSql(step));
              durations.set(index, Date.now() - t1);
            }
          };
          // One statement is atomic on its own: a migration with a single step runs without BEGIN/COMMIT.
          if (metSteps.length <= 1) await apply(client);
          else await client.transaction(apply);
          for (const { index, step } of steps) {
            if (!met.get(index)) emit({ event: 'step_skipped', runId, revision: m.revision, direction: unit.direction, step: index, reason: skipReason(step) });
            else emit({ event: 'step_done', runId, revision: m.revision, direction: unit.direction, step: index, durationMs: durations.get(index) ?? 0 });
          }
          const durationMs = Date.now() - started;
          if (isLast && unit.direction === 'up') ctx.durations.push({ revision: m.revision, durationMs });
          if (isLast) emit({ event: 'migration_done', runId, revision: m.revision, direction: unit.direction, durationMs });
          return 'done';
        } catch (error) {
          const state = sqlStateOf(error);
          if (state && LOCK_RETRY_SQLSTATES.has(state) && attempt < lockAttempts) {
            const delayMs = Math.round(backoff(attempt));
            emit({ event: 'lock_timeout_retry', runId, revision: m.revision, direction: unit.direction, step: current, attempt, delayMs });
            await sleep(delayMs);
            continue;
          }
          throw await failStep(runId, m, unit.direction, current, error);
        }
      }
    }

    // One standalone step.
    const { index, step } = steps[0]!;
    if (!(await conditionMet(ctx, step))) {
      await ledger.journal(client, {
        runId,
        events: [{ revision: m.revision, direction: unit.direction, step: index, status: 'skipped', error: skipReason(step) }],
        ...(isLast ? finish(unit, 0) : {}),
        run: { position: position + 1 },
      });
      emit({ event: 'step_skipped', runId, revision: m.revision, direction: unit.direction, step: index, reason: skipReason(step) });
      if (isLast) emit({ event: 'migration_done', runId, revision: m.revision, direction: unit.direction, durationMs: 0 });
      return 'done';
    }
    emit({ event: 'step_started', runId, revision: m.revision, direction: unit.direction, step: index, description: step.description, mode: 'standalone' });
    const t0 = Date.now();
    // The "done" write (which advances the run) is one statement after the step; a raw SQL step's
    // "started" write carries its first check (standalone.ts).
    const journal: StepJournal = {
      started: { runId, events: [{ revision: m.revision, direction: unit.direction, step: index, status: 'started' }] },
      done: () => {
        const durationMs = Date.now() - t0;
        return {
          runId,
          events: [{ revision: m.revision, direction: unit.direction, step: index, status: 'done', durationMs }],
          ...(isLast ? finish(unit, durationMs) : {}),
          run: { position: position + 1 },
        };
      },
    };
    try {
      const outcome = await standalone.run(ctx, m, unit.direction, index, step, journal);
      if (outcome === 'deadline') return 'deadline';
    } catch (error) {
      throw await failStep(runId, m, unit.direction, index, error);
    }
    const durationMs = Date.now() - t0;
    emit({ event: 'step_done', runId, revision: m.revision, direction: unit.direction, step: index, durationMs });
    if (isLast) emit({ event: 'migration_done', runId, revision: m.revision, direction: unit.direction, durationMs });
    return 'done';
  }

  async function failStep(runId: string, m: LoadedMigration, direction: Direction, step: number, error: unknown): Promise<MigrationFailedError> {
    const message = errorText(error);
    await ledger
      .journal(client, { runId, events: [{ revision: m.revision, direction, step, status: 'failed', error: message }] })
      .catch(() => {});
    emit({ event: 'step_failed', runId, revision: m.revision, direction, step, error: message, sqlState: sqlStateOf(error) });
    if (error instanceof MigrationFailedError) return error;
    return new MigrationFailedError(`${m.file} (${m.revision}) ${direction} step ${step + 1} failed: ${message}`, {
      revision: m.revision,
      step,
      direction,
      cause: error,
      context: { file: m.file },
    });
  }

  // ------------------------------------------------------------ verification

  async function verify(runId: string, stored: Plan, skipped: SkippedStep[]): Promise<Verification> {
    const isSkipped = new Set(skipped.map((s) => `${s.revision}:${s.direction}:${s.step}`));
    const tables = new Map<string, [string, string]>();
    const indexes = new Map<string, { schema: string; name: string }>();
    for (const unit of stored.units) {
      if (unit.kind === 'record') continue;
      for (const { index, step } of unitSteps(graph, unit)) {
        if (isSkipped.has(`${unit.revision}:${unit.direction}:${index}`)) continue;
        for (const t of stepTables(step)) tables.set(`${t[0]}.${t[1]}`, t);
        const key = `${step.kind === 'sql' ? '' : step.index.schema}.${step.kind === 'sql' ? '' : step.index.name}`;
        if (step.kind === 'create_index') indexes.set(key, { schema: step.index.schema, name: step.index.name });
        if (step.kind === 'drop_index') indexes.delete(key);
      }
    }
    if (tables.size === 0 && indexes.size === 0) return { analyzed: [], indexes: [], ok: true };

    const existing = tables.size
      ? (
          await client.query<{ s: string; t: string }>(sql`
            SELECT x.s, x.t FROM jsonb_to_recordset(${sql.json([...tables.values()].map(([s, t]) => ({ s, t })))}::jsonb) AS x(s text, t text)
            JOIN pg_namespace n ON n.nspname = x.s JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.t AND c.relkind IN ('r', 'p', 'm')`)
        ).rows
      : [];
    const analyzed = existing.map((r) => `${r.s}.${r.t}`);
    if (existing.length) {
      const t0 = Date.now();
      // One statement for all tables; if it outlives a Data API call it goes on server-side, which is fine for ANALYZE.
      const outcome = await client.executeLong(new SqlQuery([`ANALYZE ${existing.map((r) => qualified(r.s, r.t)).join(', ')}`]));
      if (outcome.state === 'still_running') await outcome.finished;
      emit({ event: 'analyzed', runId, tables: analyzed, durationMs: Date.now() - t0 });
    }
    const checks = indexes.size
      ? (
          await client.query<IndexCheck>(sql`
            SELECT x.schema, x.name, c.oid IS NOT NULL AS exists, coalesce(i.indisvalid, false) AS valid
            FROM jsonb_to_recordset(${sql.json([...indexes.values()])}::jsonb) AS x(schema text, name text)
            LEFT JOIN pg_namespace n ON n.nspname = x.schema
            LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.name
            LEFT JOIN pg_index i ON i.indexrelid = c.oid
            ORDER BY x.schema, x.name`)
        ).rows
      : [];
    return { analyzed, indexes: checks, ok: checks.every((c) => c.exists && c.valid) };
  }

  return {
    graph,
    ledger,
    status,
    current: async () => (await status()).current,
    history,
    check,
    plan,
    previewSql,
    start,
    advance,
    runToCompletion,
    stamp,
  };
}

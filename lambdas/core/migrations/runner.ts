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
 * The rooms (this file keeps the reads, the advance loop and stamp):
 * - run-context.ts: what every room shares (client, graph, ledger, clock, events, retry policy) and what one
 *   advance call knows (deadline, conditions, durations);
 * - lease-keeper.ts: the lease around every write, its heartbeat and its release;
 * - run-plans.ts: planning, storing and resuming runs (the stored plan is validated);
 * - transactional-unit.ts: a migration (or step) that runs in one transaction with its bookkeeping;
 * - standalone.ts: autocommit steps (CONCURRENTLY work), followed in the catalog across calls;
 * - verification.ts: ANALYZE and the index check when a run finishes.
 *
 * Policy:
 * - Standalone raw SQL steps must be idempotent (e.g. `ALTER TYPE … ADD VALUE IF NOT EXISTS`): a run
 *   killed while one was running cannot know whether it committed, so the step is run again on resume.
 * - Outside a transaction there is no session state over the Data API, so no `SET lock_timeout` can carry to
 *   the statement: CONCURRENTLY work runs under the server's or the role's lock_timeout. Keep that 0 (the
 *   default) or long for the migration role (`ALTER ROLE … SET lock_timeout = 0`); a short one cancels CIC
 *   waits and leaves an INVALID index, which the runner then drops and rebuilds.
 * - Conditional steps (`when.extensionAvailable`) are checked against pg_available_extensions once per
 *   advance call; unmet ones are journaled `skipped` and reported.
 */
import { randomUUID } from 'node:crypto';
import { sqlStateOf } from '../db/sqlstate.ts';
import { withCallDeadline } from '../db/call-deadline.ts';
import { isTransportFault } from '../db/data-api-errors.ts';
import { ConfigError, InterruptedError, MigrationFailedError, MigrationGraphError } from '../errors.ts';
import { closesAt, isOpen, type OffpeakWindow } from '../window.ts';
import { migrationFileNameProblem } from './file-name.ts';
import { MigrationGraph } from './graph.ts';
import { Lease, DEFAULT_LEASE_TTL_MS, leaseProof } from './lease.ts';
import { LeaseKeeper, type HeldLease } from './lease-keeper.ts';
import { cancelRunning } from './interrupt.ts';
import { createStandaloneSteps, type StandaloneOutcome, type StepJournal } from './standalone.ts';
import { runningBuilds, type RunningBuild } from './running-builds.ts';
import { createLoadGuard } from './load-guard.ts';
import { DEFAULT_LEDGER_SCHEMA, Ledger, type AppliedRow, type Direction, type RunStatus, type StepEvent } from './ledger.ts';
import type { LoadedMigration } from './model.ts';
import { adoptedRevisions, buildPlan, previewStatements, renderPreview, stepTables, unitSteps, type Plan, type PlanUnit, type PreviewStatement } from './planner.ts';
import { appliedRecord, conditionMet, migrationStartMs, createRunContext, failStep, finishEntry, skipReason, type CallContext, type MigratorOptions } from './run-context.ts';
import { parseStoredPlan, reconcileRun, sameMigrations, startRun, type StartOptions } from './run-plans.ts';

export type { StartOptions } from './run-plans.ts';
import { runTransactionalUnit } from './transactional-unit.ts';
import { retryIdempotent, runUnitReconciled } from './fault-reconcile.ts';
import { indexProblem } from './index-check.ts';
import { verifyRun, type SkippedStep, type Verification } from './verification.ts';
import { afterRunPlanProof, beforeMigrationPlanProof, type RunPlanProof } from './plan-proof-hook.ts';

export type { MigratorOptions } from './run-context.ts';
export type { SkippedStep, Verification } from './verification.ts';

export interface AdvanceOptions {
  /** Stop between units when the deadline is within deadlineMarginMs. */
  deadline?: Date;
  /** Stop between units when the window is closed or closes within deadlineMarginMs. */
  window?: OffpeakWindow;
  /**
   * Aborted on an interrupt (SIGINT, SIGTERM, a Lambda's early timeout): the running statement is cancelled,
   * an open transaction rolled back, and the call returns `interrupted` with the run resumable (interrupt.ts).
   */
  signal?: AbortSignal;
}

/** load_critical: the database was over the critical-load; the run stopped, resumable (load-guard.ts). */
export type AdvanceStatus = 'done' | 'in_progress' | 'window_closed' | 'failed' | 'interrupted' | 'load_critical';

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
  /** Present when a run going up finished and its migrations declare `expect` (plan-proof.ts): never fails the run. */
  planProof?: RunPlanProof;
  /** When the window closed: every index build still running in the database, its progress and what blocks it. */
  runningBuilds?: RunningBuild[];
  error?: { message: string; revision?: string; step?: number; sqlState?: string };
  /** Present when an interrupt stopped the call: what was running. */
  interrupted?: { what: string };
  /** With a load guard (max-load or critical-load): milliseconds this call spent throttled over max-load. */
  throttledMs?: number;
  /** Present when the critical-load stopped the call: why, e.g. `active=52 > 40`. */
  loadCritical?: { reason: string };
}

export interface StatusReport {
  /** Applied heads (from the ledger, or from alembic_version when the ledger is empty). */
  current: string[];
  heads: string[];
  /** Pending migrations on the way to every head, in order. */
  pending: string[];
  /** 'alembic' when `current` comes from alembic_version because the ledger is empty. */
  adoptedFrom: 'alembic' | null;
  /** Applied files edited or missing, an unknown alembic_version revision: shown, not refused (`check` refuses them). */
  warnings: string[];
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
  /** Starts a run, or resumes (re-planning if needed) the unfinished one for the same direction and target. */
  start(direction: Direction, target: string, options?: StartOptions): Promise<{ runId: string; plan: Plan; resumed: boolean }>;
  advance(runId: string, options?: AdvanceOptions): Promise<AdvanceResult>;
  runToCompletion(direction: Direction, target: string, options?: AdvanceOptions & StartOptions): Promise<AdvanceResult>;
  /**
   * Makes the ledger say exactly `target` (and its ancestors) is applied, running nothing, and ends every
   * unfinished run (abandoned). Returns the new current heads.
   */
  stamp(target: string): Promise<string[]>;
  /** Unfinished runs (in progress, stopped at a window's end, or failed), newest first. Reads only. */
  runs(): Promise<RunSummary[]>;
  /** Abandons an unfinished run: the next upgrade or downgrade plans afresh from the ledger. Takes the lease. */
  abandon(runId: string): Promise<void>;
}

/** An unfinished run, as `offpeak runs` lists it. */
export interface RunSummary {
  runId: string;
  direction: Direction;
  target: string;
  status: RunStatus;
  /** Units done, and the plan's length. */
  position: number;
  total: number;
  /** The next unit to run. */
  next: AdvanceResult['next'];
  actor: string;
  error: string | null;
  startedAt: Date;
  updatedAt: Date;
}

export function createMigrator(options: MigratorOptions): Migrator {
  const client = options.client;
  const graph = MigrationGraph.build(options.migrations);
  const schema = options.schema ?? DEFAULT_LEDGER_SCHEMA;
  const ledger = new Ledger(client, schema);
  const proof = leaseProof(client);
  const rc = createRunContext(options, graph, ledger, proof.kind === 'app' ? proof.id : undefined);
  const { emit, nowMs, marginMs } = rc;
  const owner = options.owner ?? `${rc.actor}#${randomUUID().slice(0, 8)}`;
  const lease = new Lease(client, { owner, ttlMs: options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS, schema, proof });
  const keeper = new LeaseKeeper(rc, lease);
  const standalone = createStandaloneSteps({ ...rc, lease });

  async function ledgerState() {
    const applied = await ledger.applied();
    const alembic = applied.length === 0 ? await ledger.alembicVersions() : undefined;
    return { rows: applied, state: { applied: applied.map((r) => r.revision), alembic } };
  }

  /** A status command shows the state whatever it finds: edited or missing applied files are warnings here (check refuses them). */
  async function status(): Promise<StatusReport> {
    const { rows, state } = await ledgerState();
    const warnings = graph.ledgerProblems(rows).map((e) => e.message);
    let adopted: string[] = [];
    try {
      adopted = adoptedRevisions(graph, state);
    } catch (error) {
      if (!(error instanceof MigrationGraphError)) throw error;
      warnings.push(error.message);
    }
    const { applied } = graph.appliedState(adopted.length ? adopted : state.applied);
    const current = adopted.length ? [...(state.alembic ?? [])] : currentFromLedger(state.applied);
    const want = graph.ancestors(graph.heads());
    return {
      current,
      heads: graph.heads(),
      pending: graph.order.filter((r) => want.has(r) && !applied.has(r)),
      adoptedFrom: adopted.length ? 'alembic' : null,
      warnings,
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
    let adopted: string[] = [];
    try {
      adopted = adoptedRevisions(graph, state);
    } catch (error) {
      if (!(error instanceof MigrationGraphError)) throw error; // status() reports it; history shows the files
    }
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
      const nameProblem = migrationFileNameProblem(base);
      if (nameProblem) warnings.push(`${m.file}: file name should be YYYYMMDDHHMM_short_name.ts: ${nameProblem}`);
      for (const [direction, steps] of [['up', m.up], ['down', m.down]] as const) {
        steps.forEach((s, i) => {
          if (s.kind === 'sql' && s.lock === 'strong' && stepTables(s).length === 0 && /^\s*(alter|create|drop|insert|update|delete|truncate)\s+/i.test(s.sql) && !/^\s*(create|drop)\s+(extension|schema|type|function|view)/i.test(s.sql)) {
            warnings.push(`${m.file}: ${direction} step ${i + 1} changes tables offpeak cannot name (none declared, none found by the parser): declare sqlStep(..., { tables }) so the run ANALYZEs them`);
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
    return { statements: previewStatements(graph, p, { lockTimeoutMs: rc.lockTimeoutMs }), text: renderPreview(graph, p, { lockTimeoutMs: rc.lockTimeoutMs }) };
  }

  // ------------------------------------------------------------ runs

  async function startHeld(direction: Direction, target: string, options: StartOptions = {}) {
    const { rows, state } = await ledgerState();
    graph.verifyLedger(rows);
    return startRun(rc, state, direction, target, options);
  }

  async function start(direction: Direction, target: string, options: StartOptions = {}) {
    return keeper.hold(() => startHeld(direction, target, options));
  }

  /** The next unit of a plan at a position, for results and listings. */
  function nextUnit(plan: Plan, position: number): AdvanceResult['next'] {
    const u = plan.units[position];
    if (!u) return null;
    const steps = unitSteps(graph, u);
    return {
      revision: u.revision,
      step: u.kind === 'step' ? u.step : null,
      description: u.kind === 'step' ? steps[0]!.step.description : graph.get(u.revision).description,
    };
  }

  /** "202508010000 up step 3 (create index …)": a unit, for the interrupt message. */
  function describeUnit(plan: Plan, position: number): string {
    const next = nextUnit(plan, position);
    if (!next) return 'the final verification';
    const u = plan.units[position]!;
    return `${next.revision} ${u.direction}${next.step === null ? '' : ` step ${next.step + 1}`} (${next.description})`;
  }

  async function runs(): Promise<RunSummary[]> {
    return (await ledger.unfinishedRuns()).map((run) => {
      const plan = parseStoredPlan(run);
      return {
        runId: run.runId,
        direction: run.direction,
        target: run.target,
        status: run.status,
        position: run.position,
        total: plan.units.length,
        next: sameMigrations(rc, plan) ? nextUnit(plan, run.position) : null,
        actor: run.actor,
        error: run.error,
        startedAt: run.startedAt,
        updatedAt: run.updatedAt,
      };
    });
  }

  async function abandon(runId: string): Promise<void> {
    await keeper.hold(async () => {
      const run = await ledger.getRun(runId);
      if (!run) throw new ConfigError(`unknown run ${runId}: \`offpeak runs\` lists the unfinished ones`, { context: { runId } });
      if (!['in_progress', 'window_closed', 'failed'].includes(run.status)) {
        throw new ConfigError(`run ${runId} is ${run.status}, not unfinished: nothing to abandon`, { context: { runId, status: run.status } });
      }
      const reason = `abandoned by ${rc.actor}`;
      const runIds = await ledger.abandonRuns(reason, [runId]);
      emit({ event: 'runs_abandoned', runIds, reason });
    });
  }

  async function advance(runId: string, opts: AdvanceOptions = {}): Promise<AdvanceResult> {
    return withCallDeadline(opts.deadline, () => keeper.hold((held) => advanceHeld(runId, opts, held)));
  }

  async function runToCompletion(direction: Direction, target: string, opts: AdvanceOptions & StartOptions = {}): Promise<AdvanceResult> {
    return withCallDeadline(opts.deadline, () => keeper.hold(async (held) => {
      const { runId } = await startHeld(direction, target, { restart: opts.restart });
      for (;;) {
        const result = await advanceHeld(runId, opts, held);
        if (result.status !== 'in_progress' || opts.deadline || opts.window) return result;
      }
    }));
  }

  async function stamp(target: string): Promise<string[]> {
    return keeper.hold(async () => {
      const { rows } = await ledgerState();
      graph.verifyLedger(rows);
      // A run planned before the stamp would re-run or revert what the ledger now says.
      const reason = `ended by stamp ${target}`;
      const ended = await ledger.abandonRuns(reason);
      if (ended.length) emit({ event: 'runs_abandoned', runIds: ended, reason });
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
        applied: add.map((r) => appliedRecord(rc, graph.get(r), 0, true)),
      });
      for (const r of add) emit({ event: 'migration_recorded', runId, revision: r, reason: 'stamp' });
      return graph.appliedHeads(want);
    });
  }

  // ------------------------------------------------------------ advance

  async function advanceHeld(runId: string, opts: AdvanceOptions, held: HeldLease): Promise<AdvanceResult> {
    const run = await ledger.getRun(runId);
    if (!run) throw new ConfigError(`unknown run ${runId}`, { context: { runId } });
    if (run.status === 'abandoned') {
      throw new ConfigError(`run ${runId} was abandoned (${run.error ?? 'superseded'}); start a new one`, { context: { runId } });
    }
    const { rows, state } = await ledgerState();
    graph.verifyLedger(rows);
    if (!sameMigrations(rc, parseStoredPlan(run))) {
      throw new MigrationGraphError(`run ${runId}: a migration in its plan changed since the run started; start a new run`, { context: { runId } });
    }
    const { plan: stored, position: resumeAt } = await reconcileRun(rc, state, run);
    const base = {
      runId,
      direction: run.direction,
      target: run.target,
      applied: [] as string[],
      recorded: [] as string[],
      total: stored.units.length,
    };

    const skippedSoFar = async () =>
      (await ledger.events(runId))
        .filter((e) => e.status === 'skipped')
        .map((e) => ({ revision: e.revision, direction: e.direction, step: e.step, reason: e.error ?? 'condition not met' }));

    const nextOf = (position: number) => nextUnit(stored, position);

    // The load guard (load-guard.ts): its critical stop goes through the interrupt path, on its own signal.
    const guardAbort = new AbortController();
    const guard = createLoadGuard(rc, options.loadGuard, (reason) => guardAbort.abort(reason));
    const callerSignal = opts.signal;
    if (guard.enabled) opts = { ...opts, signal: callerSignal ? AbortSignal.any([callerSignal, guardAbort.signal]) : guardAbort.signal };
    const load = () => (guard.enabled ? { throttledMs: guard.throttledMs() } : {});
    let critical: string | undefined;

    const stop = async (position: number, status: Exclude<AdvanceStatus, 'done' | 'failed'>, reason: 'deadline' | 'window_closed' | 'interrupted' | 'load_critical') => {
      if (status === 'interrupted' && guardAbort.signal.aborted && !callerSignal?.aborted) {
        status = reason = 'load_critical';
        critical ??= (guardAbort.signal.reason as Error).message.replace(/^critical load: /, '');
      }
      const runStatus: RunStatus = status === 'window_closed' ? 'window_closed' : 'in_progress';
      await ledger.journal(client, { runId, durations: ctx.durations, run: { status: runStatus, error: null } });
      emit({ event: 'run_stopped', runId, status: runStatus, reason });
      // A build is never cancelled at the window's close: say which run on, how far, and what holds them up.
      const builds = status === 'window_closed' ? { runningBuilds: await runningBuilds(client) } : {};
      const interrupted = status === 'interrupted' ? { interrupted: { what: ctx.what ?? `before ${describeUnit(stored, position)}` } } : {};
      const loadStop = status === 'load_critical' ? { loadCritical: { reason: critical ?? 'critical load' } } : {};
      return { ...base, status, position, next: nextOf(position), skipped: await skippedSoFar(), ...builds, ...interrupted, ...load(), ...loadStop } satisfies AdvanceResult;
    };

    // The first unit of a call may be one an earlier call or a killed run left running on the server.
    const windowCloses = opts.window ? (closesAt(opts.window, rc.now()) ?? undefined) : undefined;
    const ctx: CallContext = { runId, deadline: opts.deadline, windowCloses, mayBeRunning: true, firstPosition: resumeAt, extensions: undefined, durations: [], signal: opts.signal };
    const interrupted = () => opts.signal?.aborted === true;
    // On an interrupt, cancel what runs now (best effort: the statement may have just ended).
    let cancelling: Promise<unknown> | undefined;
    const onAbort = () => {
      cancelling = cancelRunning(rc, ctx.statement, ctx.marker).catch(() => 0);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let position = resumeAt;
    try {
      while (position < stored.units.length) {
        held.check();
        if (opts.signal) await new Promise<void>((resolve) => setImmediate(resolve)); // a signal that came during PGlite's statements
        if (interrupted()) return await stop(position, 'interrupted', 'interrupted');
        const t = nowMs();
        if (opts.window) {
          const closes = closesAt(opts.window, rc.now());
          if (!isOpen(opts.window, rc.now()) || !closes || closes.getTime() - t < marginMs) return await stop(position, 'window_closed', 'window_closed');
        }
        if (opts.deadline && opts.deadline.getTime() - t < marginMs) return await stop(position, 'in_progress', 'deadline');
        const gate = await guard.beforeUnit(ctx);
        if (gate === 'deadline') return await stop(position, 'in_progress', 'deadline');
        if (gate === 'window_closed') return await stop(position, 'window_closed', 'window_closed');
        if (typeof gate === 'object') {
          critical = gate.critical;
          return await stop(position, 'load_critical', 'load_critical');
        }

        const unit = stored.units[position]!;
        const watched = unit.kind === 'record' ? [] : unitSteps(graph, unit);
        const kind = { strong: watched.some((s) => s.step.lock === 'strong'), build: watched.some((s) => s.step.kind === 'create_index') };
        // A lost response or a resuming database is reconciled from the ledger, not failed (fault-reconcile.ts).
        ctx.what = describeUnit(stored, position);
        const outcome = await runUnitReconciled(rc, ctx, position, (c) => guard.watch(c, kind, () => runUnit(c, unit, position)), () => {
          held.check();
          if (interrupted()) throw new InterruptedError(ctx.what ?? 'a migration');
        });
        ctx.what = undefined;
        ctx.statement = ctx.marker = undefined;
        if (outcome === 'deadline') return await stop(position, 'in_progress', 'deadline');
        if (outcome === 'window_closed') return await stop(position, 'window_closed', 'window_closed');
        ctx.mayBeRunning = false;
        position++;
        if (unit.kind === 'record') base.recorded.push(unit.revision);
        else if (unit.kind === 'migration' || unit.last) base.applied.push(unit.revision);
      }
    } catch (error) {
      if (interrupted() || error instanceof InterruptedError) {
        // The statement was cancelled (or the transaction rolled back): nothing of the unit was kept.
        await cancelling;
        const what = ctx.what ?? (error instanceof InterruptedError ? error.what : describeUnit(stored, position));
        await ledger
          .journal(client, { runId, events: ctx.step ? [{ ...ctx.step, status: 'interrupted', error: what }] : [] })
          .catch(() => undefined);
        ctx.what = what;
        return await stop(position, 'interrupted', 'interrupted');
      }
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

    opts.signal?.removeEventListener('abort', onAbort);
    const skipped = await skippedSoFar();
    const verification = await retryIdempotent(rc, () => verifyRun(rc, runId, stored, skipped, { deadline: opts.deadline && new Date(opts.deadline.getTime() - marginMs) }));
    // An ANALYZE still ran at the deadline: the next call follows it and finishes the verification.
    if (verification === 'deadline') return await stop(position, 'in_progress', 'deadline');
    const planProof = await afterRunPlanProof(rc, runId, run.direction, stored, opts.deadline);
    const ok = verification.ok;
    const error = ok ? null : `verification failed: ${verification.indexes.flatMap((i) => indexProblem(i) ?? []).join(', ')}`;
    await ledger.journal(client, { runId, durations: ctx.durations, run: { status: ok ? 'done' : 'failed', error } });
    emit({ event: 'run_stopped', runId, status: ok ? 'done' : 'failed', reason: ok ? 'done' : 'failed' });
    return {
      ...base,
      status: ok ? 'done' : 'failed',
      position,
      next: null,
      skipped,
      verification,
      ...(planProof ? { planProof } : {}),
      ...(error ? { error: { message: error } } : {}),
      ...load(),
    };
  }

  async function runUnit(ctx: CallContext, unit: PlanUnit, position: number): Promise<StandaloneOutcome> {
    const { runId } = ctx;
    if (unit.kind === 'record') {
      const m = graph.get(unit.revision);
      await ledger.journal(client, {
        runId,
        events: [{ revision: m.revision, direction: 'up', step: -1, status: 'recorded', error: unit.reason }],
        applied: [appliedRecord(rc, m, 0, true)],
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
    ctx.step = { revision: m.revision, direction: unit.direction, step: unit.kind === 'step' ? unit.step : -1 };
    if (!inTransaction) {
      ctx.statement = steps[0]!.step.sql;
      ctx.marker = `/* offpeak step ${m.revision}:${unit.direction}:${steps[0]!.index} */`;
    }

    if (unit.kind === 'migration' || unit.step === 0) await beforeMigrationPlanProof(rc, runId, unit.direction, m);
    const migrationStart = await migrationStartMs(rc, ctx, unit);
    if (inTransaction) return runTransactionalUnit(rc, ctx, { unit, position, migration: m, steps, isLast, migrationStart });

    // One standalone step.
    const { index, step } = steps[0]!;
    if (!(await conditionMet(rc, ctx, step))) {
      await ledger.journal(client, {
        runId,
        events: [{ revision: m.revision, direction: unit.direction, step: index, status: 'skipped', error: skipReason(step) }],
        ...(isLast ? finishEntry(rc, unit, nowMs() - migrationStart) : {}),
        run: { position: position + 1 },
      });
      emit({ event: 'step_skipped', runId, revision: m.revision, direction: unit.direction, step: index, reason: skipReason(step) });
      if (isLast) emit({ event: 'migration_done', runId, revision: m.revision, direction: unit.direction, durationMs: nowMs() - migrationStart });
      return 'done';
    }
    emit({ event: 'step_started', runId, revision: m.revision, direction: unit.direction, step: index, description: step.description, mode: 'standalone' });
    const t0 = nowMs();
    // The "done" write (which advances the run) is one statement after the step; a raw SQL step's
    // "started" write carries its first check (standalone.ts).
    const journal: StepJournal = {
      started: { runId, events: [{ revision: m.revision, direction: unit.direction, step: index, status: 'started' }] },
      done: () => {
        const durationMs = nowMs() - t0;
        return {
          runId,
          events: [{ revision: m.revision, direction: unit.direction, step: index, status: 'done', durationMs }],
          // The migration's duration so far, from its first step's start (perhaps in an earlier call).
          ...(isLast ? finishEntry(rc, unit, nowMs() - migrationStart) : {}),
          run: { position: position + 1 },
        };
      },
    };
    try {
      const outcome = await standalone.run(ctx, m, unit.direction, index, step, journal);
      if (outcome !== 'done') return outcome;
    } catch (error) {
      if (isTransportFault(error) || ctx.signal?.aborted) throw error;
      throw await failStep(rc, runId, m, unit.direction, index, error);
    }
    const durationMs = nowMs() - t0;
    emit({ event: 'step_done', runId, revision: m.revision, direction: unit.direction, step: index, durationMs });
    if (isLast) {
      // The done write may be made before its statement runs (a step run inside it): the duration to the step's
      // real end is written by this call's final ledger write (call.durations), as for transactional units.
      const migrationDone = nowMs() - migrationStart;
      if (unit.direction === 'up') ctx.durations.push({ revision: m.revision, durationMs: migrationDone });
      emit({ event: 'migration_done', runId, revision: m.revision, direction: unit.direction, durationMs: migrationDone });
    }
    return 'done';
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
    runs,
    abandon,
  };
}

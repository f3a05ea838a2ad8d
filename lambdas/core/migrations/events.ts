/**
 * Structured progress and log events emitted by the runner through `onEvent`. Never prose, never SQL
 * parameters. The CLI draws its progress bar from `index_progress`; handlers log them as-is.
 */
import type { Direction, RunStatus } from './ledger.ts';

export type MigrationEvent =
  | { event: 'lease_acquired'; owner: string; expiresAt: Date }
  | { event: 'lease_taken_over'; owner: string; from: string }
  | { event: 'lease_heartbeat_failed'; owner: string; error: string }
  | { event: 'lease_release_failed'; owner: string; error: string }
  | { event: 'run_started'; runId: string; direction: Direction; target: string; units: number; resumed: boolean }
  | { event: 'run_replanned'; runId: string; reason: string; units: number }
  | { event: 'runs_abandoned'; runIds: string[]; reason: string }
  | { event: 'migration_started'; runId: string; revision: string; direction: Direction; file: string; description: string }
  | { event: 'step_started'; runId: string; revision: string; direction: Direction; step: number; description: string; mode: 'transactional' | 'standalone' }
  | { event: 'step_done'; runId: string; revision: string; direction: Direction; step: number; durationMs: number }
  | { event: 'step_skipped'; runId: string; revision: string; direction: Direction; step: number; reason: string }
  | { event: 'step_failed'; runId: string; revision: string; direction: Direction; step: number; error: string; sqlState: string | undefined }
  | { event: 'lock_timeout_retry'; runId: string; revision: string; direction: Direction; step: number; attempt: number; delayMs: number }
  | {
      event: 'index_progress';
      runId: string;
      revision: string;
      step: number;
      index: string;
      phase: string | null;
      blocksDone: number | null;
      blocksTotal: number | null;
      tuplesDone: number | null;
      tuplesTotal: number | null;
    }
  | { event: 'invalid_index_dropped'; runId: string; revision: string; step: number; index: string }
  | { event: 'index_build_retry'; runId: string; revision: string; step: number; index: string; attempt: number; reason: string }
  /** A unit's call failed for the transport; the ledger said whether it had committed or runs again (fault-reconcile.ts). */
  | { event: 'fault_reconciled'; runId: string; position: number; attempt: number; outcome: 'committed' | 'retrying'; error: string }
  /** A transactional unit was not started, or was rolled back between statements, for lack of time before the deadline. */
  | { event: 'time_budget_stop'; runId: string; revision: string; step: number; reason: 'not_started' | 'rolled_back'; neededMs: number; leftMs: number }
  | { event: 'migration_done'; runId: string; revision: string; direction: Direction; durationMs: number }
  | { event: 'migration_recorded'; runId: string; revision: string; reason: 'adoption' | 'squash' | 'stamp' }
  /** Plan proof (plan-proof.ts): one expectation checked at the end of a run going up. */
  | { event: 'plan_checked'; runId: string; revision: string; name: string; index: string; outcome: 'held' | 'not_chosen' | 'unusable' | 'skipped' | 'error' }
  | { event: 'plan_proof_failed'; runId: string; revision: string | null; phase: 'before' | 'after'; error: string }
  | { event: 'analyzed'; runId: string; tables: string[]; durationMs: number }
  /** Over max-load (load-guard.ts): before a unit the run waits; during a build the time is counted. `reason` is e.g. `active=12 > 8`. */
  | { event: 'throttled'; runId: string; reason: string; active: number; waiting: number; during: 'before_unit' | 'build' }
  | { event: 'throttle_released'; runId: string; throttledMs: number }
  /** Over critical-load: what the guard did (stopped before the next unit, cancelled a waiting statement or a build, let a statement finish). */
  | { event: 'load_critical'; runId: string; reason: string; action: string }
  /** Sessions queued behind offpeak's statement waiting for its lock for `queuedMs`: it was cancelled, to retry with backoff. */
  | { event: 'lock_queue_cancelled'; runId: string; pid: number; queued: number; queuedMs: number }
  | { event: 'run_stopped'; runId: string; status: RunStatus; reason: 'done' | 'deadline' | 'window_closed' | 'failed' | 'interrupted' | 'load_critical' };

export type MigrationEventListener = (event: MigrationEvent) => void;

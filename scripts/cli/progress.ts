import type { MigrationEvent, MigrationEventListener } from '../../lambdas/core/migrations/events.ts';
import { formatDuration } from './output.ts';

type Stream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

const BAR_WIDTH = 24;

function bar(done: number, total: number): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%`;
}

/** One line per event for logs and pipes; null for events people need not see. */
export function describeEvent(e: MigrationEvent): string | null {
  switch (e.event) {
    case 'run_started':
      return `${e.resumed ? 'resuming' : 'starting'} run ${e.runId}: ${e.direction === 'up' ? 'upgrade' : 'downgrade'} to ${e.target}, ${e.units} unit(s)`;
    case 'run_replanned':
      return `re-planned run ${e.runId}: ${e.reason}; ${e.units} unit(s) to go`;
    case 'runs_abandoned':
      return `abandoned run(s) ${e.runIds.join(', ')}: ${e.reason}`;
    case 'migration_started':
      return `${e.direction === 'up' ? 'upgrade' : 'downgrade'} ${e.revision}: ${e.description}`;
    case 'step_started':
      return `  step ${e.step + 1}: ${e.description}${e.mode === 'standalone' ? ' (outside a transaction)' : ''}`;
    case 'step_skipped':
      return `  step ${e.step + 1}: skipped (${e.reason})`;
    case 'step_failed':
      return `  step ${e.step + 1}: failed${e.sqlState ? ` [${e.sqlState}]` : ''}: ${e.error}`;
    case 'lock_timeout_retry':
      return `  step ${e.step + 1}: lock not available, retry ${e.attempt} in ${formatDuration(e.delayMs)}`;
    case 'index_progress':
      return `  ${e.index}: ${e.phase ?? 'waiting'}${e.blocksTotal ? `, blocks ${e.blocksDone ?? 0}/${e.blocksTotal}` : ''}`;
    case 'invalid_index_dropped':
      return `  ${e.index}: dropped an INVALID leftover of a failed build; rebuilding`;
    case 'index_build_retry':
      return `  ${e.index}: build attempt ${e.attempt} failed (${e.reason}); retrying`;
    case 'fault_reconciled':
      return `  call failed (${e.error}); the ledger says it ${e.outcome === 'committed' ? 'committed' : 'did not commit: running it again'}`;
    case 'time_budget_stop':
      return `  step ${e.step + 1}: ${e.reason === 'not_started' ? 'not started' : 'rolled back'}: it may need ${formatDuration(e.neededMs)}, ${formatDuration(e.leftMs)} left before the deadline`;
    case 'migration_done':
      return `done ${e.revision} in ${formatDuration(e.durationMs)}`;
    case 'migration_recorded':
      return `recorded ${e.revision} as applied without running it (${e.reason})`;
    case 'analyzed':
      return `analyzed ${e.tables.length} table(s) in ${formatDuration(e.durationMs)}`;
    case 'run_stopped':
      return `run ${e.runId} stopped: ${e.status}${e.reason === 'done' || e.reason === 'failed' ? '' : ` (${e.reason}); run the same command again to resume`}`;
    case 'lease_taken_over':
      return `took the migration lease over from ${e.from}: that run is gone`;
    case 'lease_heartbeat_failed':
      return `lease heartbeat failed (retrying): ${e.error}`;
    case 'lease_release_failed':
      return `could not release the migration lease (${e.error}); it expires on its own`;
    case 'plan_proof_failed':
      return `plan proof${e.phase === 'before' ? ` (measure before ${e.revision ?? 'the build'})` : ''} could not complete: ${e.error}`;
    case 'throttled':
      return `throttled: ${e.reason}${e.during === 'build' ? ' (the index build goes on; the next step waits)' : ''}`;
    case 'throttle_released':
      return `throttle released after ${formatDuration(e.throttledMs)}`;
    case 'load_critical':
      return `critical load: ${e.reason}; ${e.action}`;
    case 'lock_queue_cancelled':
      return `  ${e.queued} session(s) queued ${formatDuration(e.queuedMs)} behind the waiting statement (pid ${e.pid}): cancelled it, to retry`;
    case 'lease_acquired':
    case 'step_done':
    case 'plan_checked':
      return null;
  }
}

/**
 * Progress for a run. On a TTY an index build redraws one bar line (phase, blocks done/total from
 * pg_stat_progress_create_index); elsewhere every event is a plain line, and index progress only
 * prints when its phase changes so logs stay short.
 */
export function createProgress(stream: Stream): MigrationEventListener & { finish(): void } {
  const tty = stream.isTTY === true;
  let barShown = false;
  let lastPhase = '';
  const clearBar = () => {
    if (barShown) stream.write('\r\x1b[2K');
    barShown = false;
  };
  const listener = (e: MigrationEvent) => {
    if (e.event === 'index_progress') {
      if (tty) {
        const blocks = e.blocksTotal ? ` blocks ${e.blocksDone ?? 0}/${e.blocksTotal}` : '';
        const width = Math.max(40, (stream.columns ?? 100) - 1);
        const text = `  ${bar(e.blocksDone ?? 0, e.blocksTotal ?? 0)} ${e.index}: ${e.phase ?? 'waiting'}${blocks}`;
        stream.write(`\r\x1b[2K${text.slice(0, width)}`);
        barShown = true;
        return;
      }
      const key = `${e.index}:${e.phase}`;
      if (key === lastPhase) return;
      lastPhase = key;
    }
    const text = describeEvent(e);
    if (text === null) return;
    clearBar();
    stream.write(`${text}\n`);
  };
  return Object.assign(listener, { finish: clearBar });
}

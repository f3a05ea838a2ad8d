/**
 * Interrupts (SIGINT, SIGTERM, a Lambda's early timeout): the caller aborts the advance call's AbortSignal;
 * the runner then cancels what its sessions are running and stops, leaving the run resumable.
 *
 * - Between statements the runner checks the signal; inside a transaction that throws, so the client rolls
 *   the transaction back (through the Data API, RollbackTransaction).
 * - A statement in flight is cancelled with pg_cancel_backend from another session (`cancelRunning`): on pg,
 *   every backend of this client (its connections carry a unique application_name); through the Data API,
 *   the run's transactions (tagged with SET LOCAL application_name) and its standalone statement, found by
 *   its text (a statement still running after its call returned, too). PGlite runs statements on the
 *   JavaScript thread: the signal is seen between them.
 */
import { sql } from '../db/sql.ts';
import type { RunContext } from './run-context.ts';

/**
 * Sends pg_cancel_backend to every active backend running this run's statements: the ones tagged with its
 * application_name (pg: this client's; Data API: `rc.applicationName`), or running `statement` (as written, or
 * behind the runner's `/* offpeak step … *\/` marker `marker`). Returns how many it cancelled.
 */
export async function cancelRunning(rc: RunContext, statement: string | undefined, marker: string | undefined): Promise<number> {
  if (rc.client.dialect === 'pglite') return 0;
  const text = statement ?? null;
  const prefix = marker ?? null;
  const { rows } = await rc.client.query<{ cancelled: boolean }>(sql`
    SELECT pg_cancel_backend(x.pid) AS cancelled FROM (
      SELECT a.pid FROM pg_stat_activity a
      WHERE a.pid <> pg_backend_pid() AND a.datname = current_database() AND a.state = 'active'
        AND ((a.application_name = coalesce(${rc.applicationName ?? null}::text, current_setting('application_name')) AND a.application_name LIKE 'offpeak:%')
          OR a.query = ${text}::text OR (length(a.query) >= 1000 AND starts_with(${text}::text, a.query))
          OR starts_with(a.query, ${prefix}::text))) AS x`);
  return rows.filter((r) => r.cancelled).length;
}

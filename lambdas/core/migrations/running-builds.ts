/**
 * Index builds still running on the server when a window closes: what `window_closed` reports, so an
 * operator knows what goes on after the window (a build is never cancelled: that would waste it and leave
 * an INVALID index) and what holds it up (`pg_blocking_pids`: sessions whose locks or open transactions
 * the build waits for).
 */
import type { SqlExecutor } from '../db/client.ts';
import { sql } from '../db/sql.ts';
import type { RunningBuild as NoticeBuild } from '../render/notice.ts';

export interface BuildBlocker {
  pid: number;
  /** pg_stat_activity.state: 'idle in transaction' is the usual culprit. */
  state: string | null;
  applicationName: string | null;
  /** How long its transaction has been open. */
  transactionSeconds: number | null;
}

export interface RunningBuild {
  pid: number;
  /** Null while the build has not made its catalog entry yet (its first phase). */
  schema: string | null;
  index: string | null;
  table: string | null;
  /** e.g. 'CREATE INDEX CONCURRENTLY', 'REINDEX CONCURRENTLY'. */
  command: string;
  /** pg_stat_progress_create_index.phase, e.g. 'waiting for writers before build', 'building index: scanning table'. */
  phase: string;
  blocksDone: number | null;
  blocksTotal: number | null;
  tuplesDone: number | null;
  tuplesTotal: number | null;
  blockedBy: BuildBlocker[];
}

/** Every index build running in this database, with its progress and the sessions blocking it, in one query. */
export async function runningBuilds(client: SqlExecutor): Promise<RunningBuild[]> {
  const { rows } = await client.query<{
    pid: number;
    schema: string | null;
    index: string | null;
    table: string | null;
    command: string;
    phase: string;
    blocks_done: number | null;
    blocks_total: number | null;
    tuples_done: number | null;
    tuples_total: number | null;
    blocked_by: BuildBlocker[];
  }>(sql`
    SELECT p.pid, ns.nspname AS schema, ic.relname AS index, tc.relname AS table, p.command, p.phase,
           p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total,
           coalesce((SELECT jsonb_agg(jsonb_build_object('pid', b.pid, 'state', b.state, 'applicationName', b.application_name,
                                                         'transactionSeconds', floor(extract(epoch FROM now() - b.xact_start))::int) ORDER BY b.pid)
                     FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(p.pid))), '[]'::jsonb) AS blocked_by
    FROM pg_stat_progress_create_index p
    LEFT JOIN pg_class ic ON ic.oid = p.index_relid AND p.index_relid <> 0
    LEFT JOIN pg_class tc ON tc.oid = p.relid
    LEFT JOIN pg_namespace ns ON ns.oid = coalesce(ic.relnamespace, tc.relnamespace)
    WHERE p.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
    ORDER BY p.pid`);
  return rows.map((r) => ({
    pid: r.pid,
    schema: r.schema,
    index: r.index,
    table: r.table,
    command: r.command,
    phase: r.phase,
    blocksDone: r.blocks_done,
    blocksTotal: r.blocks_total,
    tuplesDone: r.tuples_done,
    tuplesTotal: r.tuples_total,
    blockedBy: r.blocked_by,
  }));
}

/** A build's progress in its phase, e.g. 'blocks 10/40, tuples 0/5000'; empty when the phase counts nothing. */
function buildProgress(b: RunningBuild): string {
  return [b.blocksTotal ? `blocks ${b.blocksDone ?? 0}/${b.blocksTotal}` : '', b.tuplesTotal ? `tuples ${b.tuplesDone ?? 0}/${b.tuplesTotal}` : '']
    .filter(Boolean)
    .join(', ');
}

/** One line per build, for the CLI: `app.idx_x on app.t (pid 123): building index: scanning table, blocks 10/40; blocked by pid 77 (idle in transaction, 310 s)`. */
export function describeRunningBuild(b: RunningBuild): string {
  const name = b.index ? `${b.schema}.${b.index}` : `an index (${b.command})`;
  const progress = buildProgress(b) ? [buildProgress(b)] : [];
  const blockers = b.blockedBy.map((x) => `pid ${x.pid} (${[x.state, x.applicationName || null, x.transactionSeconds !== null ? `transaction open ${x.transactionSeconds} s` : null].filter(Boolean).join(', ')})`);
  return `${name} on ${b.schema}.${b.table} (pid ${b.pid}): ${b.phase}${progress.length ? `, ${progress.join(', ')}` : ''}${blockers.length ? `; blocked by ${blockers.join(', ')}` : ''}`;
}

/** The notice model's view of a build (render/notice.ts): qualified names, progress as text, blockers with their transaction age. */
export function noticeBuild(b: RunningBuild): NoticeBuild {
  return {
    index: b.index ? `${b.schema}.${b.index}` : `an index not yet in the catalog (${b.command}, pid ${b.pid})`,
    table: b.table ? `${b.schema}.${b.table}` : undefined,
    phase: b.phase,
    progress: buildProgress(b) || undefined,
    blockers: b.blockedBy.map((x) => ({ pid: x.pid, state: x.state ?? undefined, waitingSeconds: x.transactionSeconds ?? undefined })),
  };
}

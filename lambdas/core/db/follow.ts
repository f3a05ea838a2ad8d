/**
 * `runToEnd`: one long autocommit statement (ANALYZE, VACUUM) run to its end, even past the call that sent it.
 *
 * `executeLong` may hand a statement back still running (the Data API after its statement timeout, a pg client
 * with `stillRunningAfterMs`); the statement goes on on the server. This follows it in pg_stat_activity (and its
 * phase in pg_stat_progress_analyze, for an ANALYZE) until it ends, so the caller starts nothing else meanwhile
 * and records it only once it has finished. A statement still running from an earlier call (same text, in this
 * database) is followed instead of being started a second time. Following stops when the deadline nears.
 */
import type { SqlClient } from './client.ts';
import { sql, type SqlQuery } from './sql.ts';

export interface FollowOptions {
  /** Stop following when fewer than `pollIntervalMs` remain before this. */
  deadline?: Date | undefined;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Default 1000 ms. */
  pollIntervalMs?: number;
  /** Each poll of a statement still running: its ANALYZE phase and sample progress, when it is an ANALYZE. */
  onProgress?: (progress: StatementProgress) => void;
}

export interface StatementProgress {
  pid: number;
  /** pg_stat_progress_analyze.phase, or null for a statement that is not an ANALYZE. */
  phase: string | null;
  sampleBlocksScanned: number | null;
  sampleBlocksTotal: number | null;
}

/**
 * done: it ended and the client saw it succeed (an error is thrown instead);
 * ended: it ended after its call returned and the transport cannot say how (check its effect);
 * deadline: it still runs; the next call follows it.
 */
export type FollowOutcome = 'done' | 'ended' | 'deadline';

/** Runs a static statement to its end (see the module doc). Throws the statement's error when the client sees it. */
export async function runToEnd(client: SqlClient, statement: SqlQuery, options: FollowOptions = {}): Promise<FollowOutcome> {
  const text = statement.toString();
  if (await isRunning(client, text)) return await follow(client, text, options);
  const outcome = await client.executeLong(statement);
  if (outcome.state === 'done') return 'done';
  const followed = await follow(client, text, options, outcome.finished);
  return followed === 'ended' && outcome.finished ? 'done' : followed;
}

async function isRunning(client: SqlClient, text: string): Promise<boolean> {
  return (await progressOf(client, text)) !== undefined;
}

/** The session running `text` in this database, with its ANALYZE progress when it is one; undefined when none runs it. */
async function progressOf(client: SqlClient, text: string): Promise<StatementProgress | undefined> {
  const { rows } = await client.query<{ pid: number; phase: string | null; scanned: number | null; total: number | null }>(
    sql`SELECT a.pid, p.phase, p.sample_blks_scanned AS scanned, p.sample_blks_total AS total
        FROM pg_stat_activity a LEFT JOIN pg_stat_progress_analyze p ON p.pid = a.pid
        WHERE a.pid <> pg_backend_pid() AND a.state = 'active' AND a.datname = current_database() AND a.query = ${text}
        LIMIT 1`.idempotent(),
  );
  const r = rows[0];
  return r && { pid: r.pid, phase: r.phase, sampleBlocksScanned: r.scanned, sampleBlocksTotal: r.total };
}

/** Polls until no session runs `text`; with `finished`, wakes when it settles and throws its error. */
async function follow(client: SqlClient, text: string, options: FollowOptions, finished?: Promise<void>): Promise<FollowOutcome> {
  const now = options.now ?? (() => new Date());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const pollMs = options.pollIntervalMs ?? 1000;
  for (;;) {
    const progress = await progressOf(client, text);
    if (!progress) break;
    options.onProgress?.(progress);
    if (options.deadline && options.deadline.getTime() - now().getTime() < pollMs) return 'deadline';
    await (finished ? Promise.race([sleep(pollMs), finished.catch(() => undefined)]) : sleep(pollMs));
  }
  await finished;
  return 'ended';
}

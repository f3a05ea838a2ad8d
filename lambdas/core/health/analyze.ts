import type { SqlClient } from '../db/client.ts';
import { runToEnd } from '../db/follow.ts';
import { quoteIdent, sql } from '../db/sql.ts';
import { DatabaseError } from '../errors.ts';
import { readContext, readTables } from './catalog.ts';
import { ensureHealthLedger, ledgerTable } from './ledger.ts';
import { resolveHealthOptions, type HealthOptions } from './options.ts';
import { staleness } from './stale.ts';

export type AnalyzeOutcome = 'analyzed' | 'skipped' | 'failed';

export interface AnalyzeRecord {
  schema: string;
  table: string;
  reason: string;
  startedAt: Date;
  durationMs: number;
  outcome: AnalyzeOutcome;
  error: string | null;
}

export interface AnalyzeInput {
  client: SqlClient;
  options?: Partial<HealthOptions> | undefined;
  /** Stop starting new ANALYZEs at this instant; what is left stays queued for the next run. */
  deadline: Date;
  /** Queue every user table, stale or not. */
  all?: boolean | undefined;
  clock?: (() => Date) | undefined;
  /** Following an ANALYZE past its call: the poll interval (default 1000 ms) and the sleep between polls. */
  pollIntervalMs?: number | undefined;
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

export interface AnalyzeResult {
  /** Tables newly queued by this run (already-queued ones from an earlier run are not counted). */
  queued: number;
  records: AnalyzeRecord[];
  /** Tables still queued after the deadline: the next run resumes with them. */
  remaining: number;
}

const QUEUE_CHUNK = 2_000;

/** Finds stale tables (one paginated catalog query) and adds them to the persistent queue. */
async function enqueue(client: SqlClient, options: HealthOptions, all: boolean): Promise<number> {
  const context = await readContext(client, options.ledgerSchema);
  const { tables } = await readTables(client, context, options.ledgerSchema, options);
  const entries = tables.flatMap((t) => {
    const stale = staleness(t, options);
    if (stale) return [{ s: t.schema, t: t.table, r: `${stale.reason}: ${stale.detail}` }];
    return all ? [{ s: t.schema, t: t.table, r: 'requested' }] : [];
  });
  let queued = 0;
  for (let i = 0; i < entries.length; i += QUEUE_CHUNK) {
    const chunk = entries.slice(i, i + QUEUE_CHUNK);
    const result = await client.query(sql`INSERT INTO ${ledgerTable(options.ledgerSchema, 'analyzeQueue')} (schema_name, table_name, reason)
      SELECT x.s, x.t, x.r FROM jsonb_to_recordset(${sql.json(chunk)}::jsonb) AS x(s text, t text, r text)
      ON CONFLICT (schema_name, table_name) DO NOTHING`);
    queued += result.rowCount;
  }
  return queued;
}

/** Whether the table was ANALYZEd (manually) within the last `withinMs` (plus a minute of slack for clock skew). */
async function analyzedSince(client: SqlClient, schema: string, table: string, withinMs: number): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    sql`SELECT coalesce(pg_stat_get_last_analyze_time(to_regclass(${`${quoteIdent(schema)}.${quoteIdent(table)}`})) > now() - make_interval(secs => ${Math.ceil(withinMs / 1000) + 60}::float8), false) AS ok`,
  );
  return rows[0]?.ok === true;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Nightly ANALYZE: queue the tables whose statistics are stale, then ANALYZE them one
 * at a time, oldest queued first, until the deadline. The queue lives in the ledger,
 * so a night that runs out of time leaves the rest for the next night. Each table's
 * outcome is logged in `analyze_log` in the same statement that dequeues it.
 *
 * One at a time for real: an ANALYZE still running after its call returned (the Data API's
 * statement timeout) is followed to its end (`runToEnd`: pg_stat_activity and
 * pg_stat_progress_analyze) before the next starts, and logged only once it has finished. When
 * the deadline comes first it stays queued, unlogged; the next run follows it if it still runs
 * rather than starting a second one.
 */
export async function runAnalyze(input: AnalyzeInput): Promise<AnalyzeResult> {
  const options = resolveHealthOptions(input.options);
  const clock = input.clock ?? (() => new Date());
  const { client } = input;
  await ensureHealthLedger(client, options.ledgerSchema);
  const queued = await enqueue(client, options, input.all ?? false);
  const queue = ledgerTable(options.ledgerSchema, 'analyzeQueue');
  const { rows } = await client.query<{ schema_name: string; table_name: string; reason: string }>(
    sql`SELECT schema_name, table_name, reason FROM ${queue} ORDER BY queued_at, schema_name, table_name`,
  );
  const records: AnalyzeRecord[] = [];
  for (const entry of rows) {
    if (clock().getTime() >= input.deadline.getTime()) break;
    const startedAt = clock();
    let outcome: AnalyzeOutcome = 'analyzed';
    let error: string | null = null;
    try {
      const began = Date.now();
      const ended = await runToEnd(client, sql`ANALYZE ${sql.ident(entry.schema_name, entry.table_name)}`, {
        deadline: input.deadline,
        now: clock,
        ...(input.sleep ? { sleep: input.sleep } : {}),
        ...(input.pollIntervalMs !== undefined ? { pollIntervalMs: input.pollIntervalMs } : {}),
      });
      // Still running at the deadline: it stays queued and unlogged; the next run follows it.
      if (ended === 'deadline') break;
      if (ended === 'ended' && !(await analyzedSince(client, entry.schema_name, entry.table_name, Date.now() - began))) {
        outcome = 'failed';
        error = "the ANALYZE ended after its call returned and the table's last_analyze did not move: it failed or was cancelled (its ERROR line is in PostgreSQL's log; on Aurora the exported postgresql log group)";
      }
    } catch (failure) {
      // A table dropped since it was queued is no failure; anything else is logged and
      // dequeued so one broken table cannot block the queue (rediscovery requeues it).
      outcome = failure instanceof DatabaseError && failure.sqlState === '42P01' ? 'skipped' : 'failed';
      error = describe(failure);
    }
    const durationMs = clock().getTime() - startedAt.getTime();
    await client.query(sql`WITH done AS (
        DELETE FROM ${queue} WHERE schema_name = ${entry.schema_name} AND table_name = ${entry.table_name})
      INSERT INTO ${ledgerTable(options.ledgerSchema, 'analyzeLog')} (schema_name, table_name, reason, started_at, duration_ms, outcome, error)
      VALUES (${entry.schema_name}, ${entry.table_name}, ${entry.reason}, to_timestamp(${startedAt.getTime() / 1000}::float8),
        ${durationMs}::bigint, ${outcome}, ${error})`);
    records.push({ schema: entry.schema_name, table: entry.table_name, reason: entry.reason, startedAt, durationMs, outcome, error });
  }
  return { queued, records, remaining: rows.length - records.length };
}

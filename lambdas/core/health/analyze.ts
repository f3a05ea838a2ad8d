import type { SqlClient } from '../db/client.ts';
import { sql } from '../db/sql.ts';
import { DatabaseError } from '../errors.ts';
import { readContext, readTables } from './catalog.ts';
import { ensureHealthLedger, ledgerTable } from './ledger.ts';
import { resolveHealthOptions, type HealthOptions } from './options.ts';
import { staleness, type StaleReason } from './stale.ts';

export type AnalyzeReason = StaleReason | 'requested';
export type AnalyzeOutcome = 'analyzed' | 'still_running' | 'skipped' | 'failed';

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

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Nightly ANALYZE: queue the tables whose statistics are stale, then ANALYZE them one
 * at a time, oldest queued first, until the deadline. The queue lives in the ledger,
 * so a night that runs out of time leaves the rest for the next night. Each table's
 * outcome is logged in `analyze_log` in the same statement that dequeues it.
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
      const result = await client.executeLong(sql`ANALYZE ${sql.ident(entry.schema_name, entry.table_name)}`);
      if (result.state === 'still_running') {
        // Where the client still holds the statement (pg), its real outcome is worth the wait.
        if (result.finished) await result.finished;
        else outcome = 'still_running';
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

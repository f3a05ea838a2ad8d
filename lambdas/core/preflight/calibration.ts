/**
 * Build-rate calibration for pre-flight: how many index bytes per second this target has built, per access
 * method, kept in the ledger (`index_build_samples`).
 *
 * Samples come from:
 * - a window run's own builds (source `run`): written with the build's "done" journal entry, no round trip
 *   of its own (ledger.ts `buildSample`): the index's pg_relation_size over the seconds since the attempt's
 *   `started` event. Only builds a call saw end (it ran them, or polled them while running) leave one: a build
 *   found already valid (it ended between two calls, or before the run) has no known end, and an index that
 *   IF NOT EXISTS skipped was no build;
 * - a rehearsal on a copy of the database (source `rehearsal`), through `recordBuildSample`.
 *
 * The rate is the median of the latest samples' bytes/second, so one odd build (a cold cache, a build that
 * waited long for old snapshots) does not swing the estimate. Without a sample for the access method the rate
 * is a conservative default (DEFAULT_BUILD_RATES) and the estimate says `calibrated: false`.
 */
import type { SqlClient, SqlExecutor } from '../db/client.ts';
import { quoteIdent, sql } from '../db/sql.ts';
import { ValidationError } from '../errors.ts';
import { Ledger } from '../migrations/ledger.ts';

export type SampleSource = 'run' | 'rehearsal';

export interface BuildSample {
  /** pg_am.amname: btree, gin, gist, hash, brin, ivfflat, hnsw, … */
  accessMethod: string;
  /** The built index's size (pg_relation_size). */
  bytes: number;
  /** Wall-clock seconds the build took (> 0). */
  seconds: number;
  source: SampleSource;
  index?: string;
  /** schema.table */
  table?: string;
  runId?: string;
}

export interface BuildRate {
  accessMethod: string;
  bytesPerSecond: number;
  /** False: no sample for this access method on this target; the rate is DEFAULT_BUILD_RATES'. */
  calibrated: boolean;
  /** Samples the rate is the median of (0 when not calibrated). */
  samples: number;
}

const MiB = 1024 * 1024;

/**
 * Conservative build rates (index bytes per second) used before a target has history. Chosen slow on
 * purpose, below what a small Aurora writer (db.r6g.large, Serverless v2 at a few ACUs) does, so that an
 * uncalibrated pre-flight errs towards "does not fit":
 * - btree 4 MiB/s: CONCURRENTLY scans the table twice and sorts; small instances build 5–20 MiB/s;
 * - hash, gist, brin 2 MiB/s; gin 1 MiB/s (posting lists are built through maintenance_work_mem batches);
 * - ivfflat 1 MiB/s (k-means over a sample, then assignment of every row to a list);
 * - hnsw 0.25 MiB/s (graph insertion per row: pgvector's slowest build by far);
 * - anything else 1 MiB/s.
 */
export const DEFAULT_BUILD_RATES: Readonly<Record<string, number>> = {
  btree: 4 * MiB,
  hash: 2 * MiB,
  gist: 2 * MiB,
  spgist: 2 * MiB,
  brin: 2 * MiB,
  gin: 1 * MiB,
  ivfflat: 1 * MiB,
  hnsw: 0.25 * MiB,
};
const FALLBACK_RATE = 1 * MiB;

/** How many of the latest samples per access method the median is taken over. */
export const RATE_WINDOW = 20;

/** Records one build's size and duration in the ledger (made or upgraded first, if need be). */
export async function recordBuildSample(client: SqlClient, schema: string, sample: BuildSample): Promise<void> {
  if (!sample.accessMethod.trim()) throw new ValidationError('a build sample needs its access method (pg_am.amname, e.g. btree)');
  if (!Number.isFinite(sample.bytes) || sample.bytes < 0) throw new ValidationError(`a build sample's bytes must be a number >= 0 (got ${sample.bytes})`);
  if (!Number.isFinite(sample.seconds) || sample.seconds <= 0) throw new ValidationError(`a build sample's seconds must be a number > 0 (got ${sample.seconds})`);
  if (sample.source !== 'run' && sample.source !== 'rehearsal') throw new ValidationError(`a build sample's source must be run or rehearsal (got ${JSON.stringify(sample.source)})`);
  const ledger = new Ledger(client, schema);
  await ledger.ensure();
  await client.query(sql`INSERT INTO ${ledger.table('index_build_samples')} (access_method, bytes, seconds, source, index_name, table_name, run_id)
    VALUES (${sample.accessMethod}, ${Math.round(sample.bytes)}::bigint, ${sample.seconds}::float8, ${sample.source}, ${sample.index ?? null}, ${sample.table ?? null}, ${sample.runId ?? null})`);
}

/** The rate for every access method with samples, in one query; empty when the ledger does not exist (a read never makes it). */
export async function calibratedRates(client: SqlExecutor, schema: string): Promise<Map<string, BuildRate>> {
  const table = `${quoteIdent(schema)}.index_build_samples`;
  const { rows: exists } = await client.query<{ found: boolean }>(sql`SELECT to_regclass(${table}) IS NOT NULL AS found`.idempotent());
  if (!exists[0]?.found) return new Map();
  const { rows } = await client.query<{ access_method: string; rate: number; samples: number }>(sql`
    SELECT access_method, (percentile_cont(0.5) WITHIN GROUP (ORDER BY bytes / seconds))::float8 AS rate, count(*)::int AS samples
    FROM (SELECT access_method, bytes, seconds, row_number() OVER (PARTITION BY access_method ORDER BY recorded_at DESC, id DESC) AS n
          FROM ${sql.ident(schema, 'index_build_samples')} WHERE bytes > 0) s
    WHERE n <= ${RATE_WINDOW} GROUP BY access_method`.idempotent());
  return new Map(rows.map((r) => [r.access_method, { accessMethod: r.access_method, bytesPerSecond: r.rate, calibrated: true, samples: r.samples }]));
}

/** The default (uncalibrated) rate for an access method. */
export function defaultRate(accessMethod: string): BuildRate {
  return { accessMethod, bytesPerSecond: DEFAULT_BUILD_RATES[accessMethod] ?? FALLBACK_RATE, calibrated: false, samples: 0 };
}

/** The rate pre-flight uses for `accessMethod`: calibrated from this target's samples, else the default. */
export async function buildRate(client: SqlExecutor, schema: string, accessMethod: string): Promise<BuildRate> {
  return (await calibratedRates(client, schema)).get(accessMethod) ?? defaultRate(accessMethod);
}

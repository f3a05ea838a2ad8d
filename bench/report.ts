/**
 * The index-health report on a catalog of 2,000 tables × 5 indexes (10,000 indexes),
 * side by side in one run with the well-known equivalent: PgHero's unused, invalid and
 * duplicate index checks (written here from PgHero's documented behaviour), run directly
 * through node-postgres.
 *
 * - the report runs in a child process (so its peak RSS is its own) through offpeak's
 *   Data API adapter, the real SDK client and the local Data API server;
 * - a counting proxy in front of the server records round trips and response sizes;
 * - history: a snapshot backdated 20 days plus one now, so unused verdicts carry drop
 *   advice (the heaviest report: a restore statement per unused index).
 *
 * Fairness: both sides run on the same database, one warm-up run each first (caches,
 * catalog caches, the child's module loading), then RUNS rounds interleaved
 * (peers, report via Data API, report direct via pg), so machine load hits all alike;
 * medians are compared. The direct-pg report separates SQL cost from transport cost,
 * and must yield exactly the same findings as the Data API one (the bench fails otherwise).
 *
 * Targets: ≤ 5 round trips, every response < 1 MiB, wall time ≤ 1.5× the peer
 * queries, report process peak RSS ≤ 256 MB.
 *
 * Run: npx tsx bench/report.ts [tables]
 * Database: TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres; a scratch
 * database is created and dropped.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createDataApiClient, createRdsDataSdkClient } from '../lambdas/core/db/data-api.ts';
import { createPgClient } from '../lambdas/core/db/pg.ts';
import { buildIndexHealthReportWithStats } from '../lambdas/core/health/build-report.ts';
import { takeUsageSnapshot } from '../lambdas/core/health/snapshot.ts';
import { startDataApiServer } from '../scripts/data-api/server.ts';
import { line, ms } from './_report.ts';

const DATA_API_MAX_RESPONSE = 1024 * 1024;
const RUNS = 5;

interface RunResult {
  wallMs: number;
  roundTrips: number;
  findings: number;
  byKind: Record<string, number>;
  /** sha256 of the findings, to prove both paths report the same thing. */
  digest: string;
  maxRssBytes: number;
}

type Built = Awaited<ReturnType<typeof buildIndexHealthReportWithStats>>;

function summarize(built: Built, wallMs: number): RunResult {
  const byKind: Record<string, number> = {};
  for (const f of built.report.findings) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  return {
    wallMs,
    roundTrips: built.roundTrips,
    findings: built.report.findings.length,
    byKind,
    digest: createHash('sha256').update(JSON.stringify(built.report.findings)).digest('hex'),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// ---------------------------------------------------------------- child: the report process

/** Builds one report per "run" line on stdin, answering with one JSON line each. */
async function child(endpoint: string, database: string, nowMs: number): Promise<void> {
  const sdk = createRdsDataSdkClient({ endpoint });
  const client = createDataApiClient({
    client: sdk,
    resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:bench',
    secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench',
    database,
    ownsClient: true,
  });
  for await (const command of createInterface({ input: process.stdin })) {
    if (command !== 'run') break;
    const started = performance.now();
    const built = await buildIndexHealthReportWithStats({ client, now: new Date(nowMs) });
    process.stdout.write(`${JSON.stringify(summarize(built, performance.now() - started))}\n`);
  }
  await client.close();
}

/** The report process, kept alive across runs so each run is timed warm, like the peers' connection. */
function startChild(endpoint: string, database: string, nowMs: number): { run: () => Promise<RunResult>; end: () => Promise<void> } {
  const p = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', endpoint, database, String(nowMs)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  return {
    run: async () => {
      p.stdin.write('run\n');
      const next = await lines.next();
      if (next.done) throw new Error('report child exited early');
      return JSON.parse(next.value) as RunResult;
    },
    end: () =>
      new Promise((resolve, reject) => {
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`report child exited ${code}`))));
        p.stdin.end();
      }),
  };
}

// ---------------------------------------------------------------- PgHero's checks, from its documented behaviour

/** Unused: indexes scanned at most 50 times, not unique, largest first. */
const pgheroUnused = `SELECT ui.schemaname AS schema, ui.relname AS table, ui.indexrelname AS index,
    pg_relation_size(i.indexrelid) AS size_bytes, ui.idx_scan AS index_scans
  FROM pg_stat_user_indexes ui JOIN pg_index i ON ui.indexrelid = i.indexrelid
  WHERE NOT i.indisunique AND ui.idx_scan <= 50
  ORDER BY pg_relation_size(i.indexrelid) DESC, ui.relname ASC`;

/** Invalid: pg_index.indisvalid false, with the definition to recreate it. */
const pgheroInvalid = `SELECT n.nspname AS schema, c.relname AS index, pg_get_indexdef(i.indexrelid) AS definition
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_index i ON i.indexrelid = c.oid
  WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
  ORDER BY c.relname`;

/** Duplicates: list every index with its columns (parsed from its definition), then compare per table in the app. */
const pgheroIndexes = `SELECT ut.schemaname AS schema, t.relname AS table, ix.relname AS name,
    regexp_replace(pg_get_indexdef(i.indexrelid), '^[^\\(]*\\((.*)\\)$', '\\1') AS columns,
    regexp_replace(pg_get_indexdef(i.indexrelid), '.* USING ([^ ]*) \\(.*', '\\1') AS using,
    i.indisunique AS unique, i.indisprimary AS primary, i.indisvalid AS valid,
    i.indexprs::text, i.indpred::text, pg_get_expr(i.indpred, i.indrelid) AS where
  FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ix ON ix.oid = i.indexrelid
  LEFT JOIN pg_stat_user_tables ut ON ut.relid = t.oid
  WHERE ut.schemaname IS NOT NULL
  ORDER BY 1, 2`;

interface IndexRow {
  schema: string;
  table: string;
  name: string;
  columns: string;
  using: string;
  unique: boolean;
  primary: boolean;
  valid: boolean;
  where: string | null;
}

/** An index is a duplicate when another valid one on the same table starts with all its columns, same method and predicate. */
function pgheroDuplicates(indexes: IndexRow[]): number {
  const byTable = new Map<string, IndexRow[]>();
  for (const i of indexes) byTable.set(`${i.schema}.${i.table}`, [...(byTable.get(`${i.schema}.${i.table}`) ?? []), i]);
  let found = 0;
  for (const list of byTable.values()) {
    for (const index of list) {
      if (!index.valid || index.primary || index.unique) continue;
      const columns = index.columns.split(', ');
      const covering = list.find((other) => other.name !== index.name && other.valid && other.using === index.using
        && other.where === index.where && columns.every((c, k) => other.columns.split(', ')[k] === c));
      if (covering) found++;
    }
  }
  return found;
}

async function peers(url: string): Promise<{ ms: number; unused: number; invalid: number; duplicates: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const started = performance.now();
    const unused = await client.query(pgheroUnused);
    const invalid = await client.query(pgheroInvalid);
    const indexes = await client.query<IndexRow>(pgheroIndexes);
    const duplicates = pgheroDuplicates(indexes.rows);
    return { ms: performance.now() - started, unused: unused.rowCount ?? 0, invalid: invalid.rowCount ?? 0, duplicates };
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------- parent

/** Forwards to the Data API server, counting calls and measuring each response body. */
async function countingProxy(
  target: string,
): Promise<{ endpoint: string; calls: () => number; maxResponse: () => number; sizes: number[]; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let calls = 0;
  let maxResponse = 0;
  const sizes: number[] = [];
  const server = http.createServer((req, res) => {
    calls++;
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        let bytes = 0;
        up.on('data', (chunk: Buffer) => (bytes += chunk.length));
        up.on('end', () => {
          maxResponse = Math.max(maxResponse, bytes);
          sizes.push(bytes);
        });
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls: () => calls,
    maxResponse: () => maxResponse,
    sizes,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function buildCatalog(url: string, tables: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // PK + 4 idx_ indexes per table; (a) is overlapped by (a, b); every 10th table's (d) index duplicates (c).
    // Batches of 200 tables: one transaction for all would run out of lock slots.
    for (let from = 1; from <= tables; from += 200) {
      await client.query(`DO $$ BEGIN
      FOR t IN ${from}..${Math.min(tables, from + 199)} LOOP
        EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, a int, b int, c int, d int)', t);
        EXECUTE format('INSERT INTO t%s SELECT g, g, g %% 7, g %% 13, g %% 17 FROM generate_series(1, 50) g', t);
        EXECUTE format('CREATE INDEX idx_t%s_a ON t%s (a)', t, t);
        EXECUTE format('CREATE INDEX idx_t%s_a_b ON t%s (a, b)', t, t);
        EXECUTE format('CREATE INDEX idx_t%s_c ON t%s (c)', t, t);
        IF t % 10 = 0 THEN
          EXECUTE format('CREATE INDEX idx_t%s_d ON t%s (c)', t, t);
        ELSE
          EXECUTE format('CREATE INDEX idx_t%s_d ON t%s (d)', t, t);
        END IF;
      END LOOP;
    END $$`);
    }
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

async function parent(): Promise<void> {
  const tables = Number(process.argv[2] ?? 2_000);
  const base = process.env['TEST_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `offpeak_bench_report_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  try {
    let started = performance.now();
    await buildCatalog(url.toString(), tables);
    line('catalog', `${tables} tables × 5 indexes = ${tables * 5} indexes, built in ${ms(performance.now() - started)}`);

    const direct = createPgClient({ connectionString: url.toString(), max: 1 });
    await takeUsageSnapshot({ client: direct, now: new Date(Date.now() - 20 * 86_400_000) });
    started = performance.now();
    await takeUsageSnapshot({ client: direct });
    line('snapshot (one INSERT … SELECT)', ms(performance.now() - started));
    const nowMs = Date.now();

    const server = await startDataApiServer({ databaseUrl: url.toString() });
    const proxy = await countingProxy(server.endpoint);
    const reporter = startChild(proxy.endpoint, name, nowMs);
    try {
      const directRun = async () => {
        const t = performance.now();
        const built = await buildIndexHealthReportWithStats({ client: direct, now: new Date(nowMs) });
        return summarize(built, performance.now() - t);
      };
      // Warm-up, not counted: every side once.
      await peers(url.toString());
      await reporter.run();
      await directRun();
      const callsBefore = proxy.calls();
      const sizesBefore = proxy.sizes.length;
      const peerRuns: Awaited<ReturnType<typeof peers>>[] = [];
      const apiRuns: RunResult[] = [];
      const directRuns: RunResult[] = [];
      for (let i = 0; i < RUNS; i++) {
        peerRuns.push(await peers(url.toString()));
        apiRuns.push(await reporter.run());
        directRuns.push(await directRun());
      }
      const report = apiRuns[apiRuns.length - 1]!;
      const same = [...apiRuns, ...directRuns].every((r) => r.digest === report.digest && r.findings === report.findings);

      const reportMs = median(apiRuns.map((r) => r.wallMs));
      const directMs = median(directRuns.map((r) => r.wallMs));
      const peerMs = median(peerRuns.map((r) => r.ms));
      const peer = peerRuns[0]!;
      const runs = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
      line(`report via Data API (median of ${RUNS})`, `${ms(reportMs)}  (runs: ${runs(apiRuns.map((r) => r.wallMs))} ms)`);
      line(`report direct via pg (median of ${RUNS})`, `${ms(directMs)}  (runs: ${runs(directRuns.map((r) => r.wallMs))} ms)`);
      line('  → Data API transport share', ms(reportMs - directMs));
      line('report round trips (per report)', `${report.roundTrips} (proxy saw ${(proxy.calls() - callsBefore) / RUNS} per report)  target ≤ 5`);
      line('largest Data API response', `${(proxy.maxResponse() / 1024).toFixed(0)} KiB  target < ${DATA_API_MAX_RESPONSE / 1024} KiB`);
      line('responses of one report (KiB)', proxy.sizes.slice(sizesBefore, sizesBefore + report.roundTrips).map((b) => (b / 1024).toFixed(0)).join(', '));
      line('report findings', `${report.findings}  ${JSON.stringify(report.byKind)}`);
      line('direct and Data API reports agree', same ? `yes (${directRuns[0]!.findings} findings, same digest)` : 'NO');
      line(`PgHero unused+invalid+duplicate, pg (median of ${RUNS})`, `${ms(peerMs)}  (runs: ${runs(peerRuns.map((r) => r.ms))} ms; unused ${peer.unused}, invalid ${peer.invalid}, duplicates ${peer.duplicates})`);
      line('ratio report / PgHero queries', `${(reportMs / peerMs).toFixed(2)}×  target ≤ 1.5×`);
      line('ratio direct report / PgHero queries', `${(directMs / peerMs).toFixed(2)}×`);
      line('report process peak RSS', `${(report.maxRssBytes / 2 ** 20).toFixed(0)} MiB  target ≤ 256 MiB`);
      if (!same) throw new Error('the direct and Data API reports differ');
    } finally {
      await reporter.end();
      await direct.close();
      await proxy.close();
      await server.close();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
else await parent();

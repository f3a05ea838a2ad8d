/**
 * `bench/upgrade`: 200 generated migrations (one table and one index each) applied by offpeak through pg,
 * against the same SQL applied by `psql -f`, each on its own fresh scratch database, in one run; then the
 * SQL round trips per migration offpeak makes through pg and through the Data API (local server).
 * Targets: offpeak ≤ 1.5× psql; round trips ≤ the migration's statements + 2.
 *
 * Round trips are counted by test/support/counting-client.ts: every query/executeLong call is one, and every
 * transaction adds two more (BEGIN and COMMIT on pg; BeginTransaction and CommitTransaction calls on the
 * Data API). They are reported per step group (a transactional unit, or one standalone step), split into
 * the migration's own statements, offpeak's extra statements (bookkeeping, catalog checks) and transaction
 * control, so "statements + N" can be read both with and without BEGIN/COMMIT.
 *
 * Two shapes, since offpeak runs them differently:
 * - tx:  CREATE TABLE + CREATE INDEX (plain: the table is new) in one transaction, with its bookkeeping;
 *        psql gets BEGIN; … COMMIT; per migration.
 * - cic: CREATE TABLE in a transaction, then CREATE INDEX CONCURRENTLY on its own (journaled, checked
 *        valid); psql gets the same two statements, autocommit.
 * The offpeak figure includes everything a real run does once: ledger creation, lease, plan, the final
 * ANALYZE of the 200 tables and the index verification.
 *
 * Run: npx tsx bench/upgrade.ts [migrations]. Database server: TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createDataApiClient, createRdsDataSdkClient } from '../lambdas/core/db/data-api.ts';
import { createPgClient } from '../lambdas/core/db/pg.ts';
import type { SqlClient } from '../lambdas/core/db/client.ts';
import { fromModules } from '../lambdas/core/migrations/loader.ts';
import { createIndex, defineMigration, sqlStep, type Migration } from '../lambdas/core/migrations/model.ts';
import { createMigrator } from '../lambdas/core/migrations/runner.ts';
import { startDataApiServer } from '../scripts/data-api/server.ts';
import { countingClient } from '../test/support/counting-client.ts';
import { line, memory, ms } from './_report.ts';

type Shape = 'tx' | 'cic';
const count = Number(process.argv[2] ?? 200);
const rounds = 3;
const serverUrl = process.env['TEST_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';

function migrations(shape: Shape): Migration[] {
  return Array.from({ length: count }, (_, i) => {
    const table = `bench_t_${String(i).padStart(4, '0')}`;
    return defineMigration({
      revision: `2026${String(i + 1).padStart(8, '0')}`,
      downRevision: i === 0 ? null : `2026${String(i).padStart(8, '0')}`,
      description: `table ${table} and its index`,
      risk: 'low',
      ...(shape === 'cic' ? { mixedLocking: { reason: 'the table is created by this migration: nothing else can hold it' } } : {}),
      up: [
        sqlStep(`CREATE TABLE public.${table} (id bigint PRIMARY KEY, owner_id bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`, { tables: [table] }),
        createIndex({ name: `idx_${table}_owner_id`, table, columns: ['owner_id', 'created_at'], concurrently: shape === 'cic' }),
      ],
      down: [sqlStep(`DROP TABLE public.${table}`)],
    });
  });
}

function psqlScript(shape: Shape, ms_: Migration[]): string {
  return ms_
    .map((m) => {
      const statements = m.up.map((s) => `${s.sql};`).join('\n');
      return shape === 'tx' ? `BEGIN;\n${statements}\nCOMMIT;` : statements;
    })
    .join('\n');
}

const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
const created: string[] = [];
async function scratch(label: string): Promise<string> {
  const name = `offpeak_bench_${label}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  created.push(name);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

interface Group {
  /** All round trips of one step group (a transaction, or one standalone step). */
  roundTrips: number;
  /** SQL statements only (no BEGIN/COMMIT). */
  statements: number;
}

interface OffpeakRun {
  ms: number;
  /** Per migration, its step groups in order (tx shape: one; cic shape: the transaction, then the index). */
  groups: Group[][];
  total: number;
}

async function offpeakRun(client: SqlClient, shape: Shape): Promise<OffpeakRun> {
  const counted = countingClient(client);
  const marks: Array<Array<[number, number]>> = [];
  const migrator = createMigrator({
    client: counted,
    migrations: fromModules(migrations(shape).map((migration) => ({ file: `${migration.revision}_bench.ts`, migration }))),
    actor: 'bench',
    pollIntervalMs: 50,
    onEvent: (e) => {
      // A standalone step's step_started comes before any of its SQL, and after the previous group committed.
      if (e.event === 'migration_started') marks.push([]);
      if (e.event === 'migration_started' || e.event === 'migration_done' || (e.event === 'step_started' && e.mode === 'standalone')) {
        marks.at(-1)!.push([counted.count, counted.statements]);
      }
    },
  });
  const t0 = performance.now();
  const result = await migrator.runToCompletion('up', 'head');
  const elapsed = performance.now() - t0;
  if (result.status !== 'done' || result.applied.length !== count) throw new Error(`offpeak run ended ${result.status}: ${result.error?.message ?? ''}`);
  const groups = marks.map((m) => {
    // The migration's first standalone step_started equals migration_started when it opens the migration.
    const points = m.filter((p, i) => i === 0 || p[0] !== m[i - 1]![0]);
    return points.slice(1).map((p, i) => ({ roundTrips: p[0] - points[i]![0], statements: p[1] - points[i]![1] }));
  });
  return { ms: elapsed, groups, total: counted.count };
}

function psqlRun(url: string, shape: Shape): number {
  const dir = mkdtempSync(join(tmpdir(), 'offpeak-bench-'));
  const file = join(dir, 'upgrade.sql');
  writeFileSync(file, psqlScript(shape, migrations(shape)));
  const t0 = performance.now();
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const elapsed = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  return elapsed;
}

const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { min: sorted[0] ?? 0, median: sorted[sorted.length >> 1] ?? 0, max: sorted.at(-1) ?? 0 };
};

try {
  process.stdout.write(`${count} migrations, one table + one index each; load average ${loadavg()[0]!.toFixed(1)}\n`);
  for (const shape of ['tx', 'cic'] as const) {
    // The migration's own statements per step group.
    const own = shape === 'tx' ? [2] : [1, 1];
    const groupNames = shape === 'tx' ? ['transaction (CREATE TABLE + CREATE INDEX)'] : ['transaction (CREATE TABLE)', 'standalone CREATE INDEX CONCURRENTLY'];
    // psql and offpeak alternate on fresh databases, so load drift hits both; the best of each counts.
    const psqlTimes: number[] = [];
    const offpeakTimes: number[] = [];
    let pgCounts: OffpeakRun | undefined;
    // Every database is made before any timing, then a checkpoint: CREATE DATABASE writes a lot, and its
    // flush would otherwise land on whichever run comes next (it made the first psql run 2× slower at times).
    const databases = [];
    for (let round = 0; round < rounds; round++) databases.push({ psql: await scratch(`psql_${shape}`), pg: await scratch(`pg_${shape}`) });
    await admin.query('CHECKPOINT').catch(() => undefined); // needs superuser or pg_checkpoint; only a noise guard
    for (const db of databases) {
      psqlTimes.push(psqlRun(db.psql, shape));
      const client = createPgClient({ connectionString: db.pg, max: 2 });
      try {
        const run = await offpeakRun(client, shape);
        offpeakTimes.push(run.ms);
        pgCounts = run;
      } finally {
        await client.close();
      }
    }
    const dataApiUrl = await scratch(`dapi_${shape}`);
    const server = await startDataApiServer({ databaseUrl: dataApiUrl });
    const dataApi = createDataApiClient({
      client: createRdsDataSdkClient({ endpoint: server.endpoint }),
      resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:bench',
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench',
      database: new URL(dataApiUrl).pathname.slice(1),
      ownsClient: true,
    });
    let dataApiRun: OffpeakRun;
    try {
      dataApiRun = await offpeakRun(dataApi, shape);
    } finally {
      await dataApi.close();
      await server.close();
    }

    const psqlBest = Math.min(...psqlTimes);
    const offpeakBest = Math.min(...offpeakTimes);
    const fmt = (xs: number[]) => {
      const x = stats(xs);
      return x.min === x.max ? `${x.median}` : `median ${x.median} (min ${x.min}, max ${x.max})`;
    };
    const once = (run: OffpeakRun) => run.total - run.groups.flat().reduce((a, g) => a + g.roundTrips, 0);
    const groupLine = (transport: string, run: OffpeakRun, g: number) => {
      const all = run.groups.map((gs) => gs[g]?.roundTrips ?? Number.NaN);
      const extra = run.groups.map((gs) => (gs[g]?.statements ?? Number.NaN) - own[g]!);
      const control = run.groups.map((gs) => (gs[g] ? gs[g].roundTrips - gs[g].statements : Number.NaN));
      const withControl = all.map((a) => a - own[g]!);
      line(
        `  ${transport}`,
        `${fmt(all)} = ${own[g]} own + ${fmt(extra)} offpeak + ${fmt(control)} ${transport === 'pg' ? 'BEGIN/COMMIT' : 'Begin/CommitTransaction'}` +
          ` → statements + ${fmt(withControl)} counted, + ${fmt(extra)} not counting transaction control (target + 2)`,
      );
    };
    process.stdout.write(`\nshape ${shape}: ${shape === 'tx' ? 'CREATE TABLE + CREATE INDEX in one transaction' : 'CREATE TABLE (transaction) + CREATE INDEX CONCURRENTLY (standalone)'}\n`);
    line(`psql -f (best of ${rounds})`, `${ms(psqlBest)}  (${psqlTimes.map(ms).join(', ')})`);
    line(`offpeak through pg (best of ${rounds})`, `${ms(offpeakBest)}  (${offpeakTimes.map(ms).join(', ')})`);
    line('ratio offpeak / psql (target ≤ 1.5×)', `${(offpeakBest / psqlBest).toFixed(2)}×`);
    line('offpeak through the Data API (local server)', ms(dataApiRun.ms));
    groupNames.forEach((name, g) => {
      process.stdout.write(`  round trips per migration, ${name}:\n`);
      groupLine('pg', pgCounts!, g);
      groupLine('Data API', dataApiRun, g);
    });
    const perMigration = (run: OffpeakRun) => run.groups.map((gs) => gs.reduce((a, x) => a + x.roundTrips, 0));
    line('round trips per migration in all, pg / Data API', `${fmt(perMigration(pgCounts!))} / ${fmt(perMigration(dataApiRun))} for ${own.reduce((a, b) => a + b, 0)} own statements`);
    line('round trips once per run, pg / Data API', `${once(pgCounts!)} / ${once(dataApiRun)} (ledger, lease, plan, ANALYZE, verify)`);
  }
  memory();
} finally {
  for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

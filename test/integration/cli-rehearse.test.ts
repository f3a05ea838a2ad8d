import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, scratchDir, writeMigration } from '../support/cli.ts';
import { testDatabaseUrl } from '../support/database.ts';
import { lacks } from '../support/prerequisites.ts';

/**
 * offpeak rehearse (issue 15 item 4): the plan runs on a copy (CREATE DATABASE … TEMPLATE, or a restored dump),
 * timed per unit; the source is untouched but for the calibration samples in its ledger; the copy is dropped
 * whatever happens (done, failed, Ctrl-C). PostgreSQL only: PGlite holds one database, so there it is refused.
 */

const cleanup: Array<() => void | Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

function urlOf(database: string): string {
  const u = new URL(testDatabaseUrl!);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const c = new pg.Client({ connectionString: database ? urlOf(database) : testDatabaseUrl! });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A source database with a 100k-row table, left with no session open (TEMPLATE needs that). */
async function sourceDatabase(): Promise<{ name: string; url: string }> {
  const name = `offpeak_t_rh_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  cleanup.push(() => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined));
  await admin(async (c) => {
    await c.query('CREATE TABLE public.items (id bigint PRIMARY KEY, v integer NOT NULL, note text)');
    await c.query(`INSERT INTO public.items SELECT g, g % 997, md5(g::text) FROM generate_series(1, 100000) g`);
  }, name);
  return { name, url: urlOf(name) };
}

/** Migrations: a table (transactional), then two indexes on items built concurrently; `failing` adds a step that fails. */
function migrations(options: { failing?: boolean; sleeping?: boolean } = {}): string {
  const dir = scratchDir('rehearse-m');
  cleanup.push(() => dir.dispose());
  writeMigration(dir.path, { revision: '202603010001', downRevision: null, table: 'rh_side' });
  writeMigration(dir.path, {
    revision: '202603010002',
    downRevision: '202603010001',
    body: `up: [
    createIndex({ name: 'idx_items_v', table: 'items', columns: ['v'] }),
    ${options.sleeping ? `sqlStep('SELECT pg_sleep(60)', { lock: 'none', description: 'sleep a minute' }),` : ''}
    ${options.failing ? `sqlStep('SELECT 1 / (SELECT count(*) - count(*) FROM public.items)', { lock: 'none', description: 'divide by zero' }),` : ''}
    createIndex({ name: 'idx_items_note', table: 'items', columns: ['note'], include: ['v'] }),
  ],
  ${options.failing || options.sleeping ? `down: { irreversible: 'a test migration' },` : ''}`,
  });
  return dir.path;
}

async function copiesOf(source: string): Promise<string[]> {
  const { rows } = await admin((c) => c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`offpeak_rehearsal_${source}_%`]));
  return rows.map((r) => r.datname);
}

async function sourceState(name: string) {
  return admin(async (c) => {
    const idx = await c.query<{ n: string }>(`SELECT count(*) AS n FROM pg_indexes WHERE tablename = 'items' AND indexname LIKE 'idx_%'`);
    const ledger = await c.query<{ t: string | null }>(`SELECT to_regclass('offpeak.applied_migrations')::text AS t`);
    const applied = ledger.rows[0]!.t ? (await c.query<{ revision: string }>('SELECT revision FROM offpeak.applied_migrations')).rows.map((r) => r.revision) : [];
    const samples = ledger.rows[0]!.t
      ? (await c.query<{ access_method: string; bytes: string; seconds: number; source: string; index_name: string }>('SELECT access_method, bytes, seconds, source, index_name FROM offpeak.index_build_samples ORDER BY id')).rows
      : [];
    return { indexes: Number(idx.rows[0]!.n), applied, samples };
  }, name);
}

describe('rehearse refuses targets that cannot be copied', () => {
  it('refuses PGlite (one database) and the Data API (the state machine clones the cluster), changing nothing', async () => {
    const m = migrations();
    const dir = scratchDir('rehearse-pglite');
    cleanup.push(() => dir.dispose());
    const onPglite = await runCli(['rehearse', '--migrations', m, '--pglite-dir', join(dir.path, 'db')]);
    expect(onPglite.code).toBe(2);
    expect(onPglite.stderr).toMatch(/PGlite holds only one database: give --database-url/);
    const onDataApi = await runCli(['rehearse', '--migrations', m, '--data-api-endpoint', 'http://127.0.0.1:1', '--resource-arn', 'arn:aws:rds:us-east-1:000000000000:cluster:x', '--secret-arn', 'arn:aws:secretsmanager:us-east-1:000000000000:secret:x', '--database', 'x']);
    expect(onDataApi.code).toBe(2);
    expect(onDataApi.stderr).toMatch(/rehearsal state machine/);
  });
});

describe.skipIf(lacks('postgresql'))('rehearse on PostgreSQL (needs TEST_DATABASE_URL: CREATE DATABASE … TEMPLATE needs a server)', () => {
  it('runs the plan on a TEMPLATE copy with per-unit timings, records the builds in the source ledger, drops the copy, leaves the source unmigrated', async () => {
    // Prepare
    const source = await sourceDatabase();
    const m = migrations();
    // Act
    const run = await runCli(['rehearse', 'head', '--migrations', m, '--database-url', source.url, '--window', '01:00,120', '--json']);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout) as { status: string; units: Array<{ revision: string; step: number | null; durationMs: number }>; window: { minutes: number; fits: boolean }; samplesRecorded: number; copy: string; copyLifetimeMs: number };
    expect(doc.status).toBe('done');
    expect(doc.units.map((u) => [u.revision, u.step])).toEqual([
      ['202603010001', null],
      ['202603010002', 0],
      ['202603010002', 1],
    ]);
    for (const u of doc.units) expect(u.durationMs).toBeGreaterThanOrEqual(0);
    expect(doc.window).toEqual({ minutes: 120, fits: true });
    expect(doc.copyLifetimeMs).toBeGreaterThan(0);
    expect(await copiesOf(source.name)).toEqual([]);
    const after = await sourceState(source.name);
    expect(after.indexes).toBe(0);
    expect(after.applied).toEqual([]);
    expect(after.samples.map((s) => [s.index_name, s.access_method, s.source])).toEqual([
      ['idx_items_v', 'btree', 'rehearsal'],
      ['idx_items_note', 'btree', 'rehearsal'],
    ]);
    expect(doc.samplesRecorded).toBe(2);
    for (const s of after.samples) {
      expect(Number(s.bytes)).toBeGreaterThan(500_000);
      expect(s.seconds).toBeGreaterThan(0);
    }
  });

  it('prints the units, the total against the window and the copy lifetime as text', async () => {
    const source = await sourceDatabase();
    const run = await runCli(['rehearse', '--migrations', migrations(), '--database-url', source.url, '--window', '01:00,1']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^rehearsed units:$[\s\S]*^ {2}202603010002 +step 1 +\S+( \S+)? +create index idx_items_v on items$/m);
    expect(run.stdout).toMatch(/^total .+: fits the 1-minute window$/m);
    expect(run.stdout).toMatch(/^calibration: 2 index build sample\(s\) recorded in the source's ledger for pre-flight$/m);
    expect(run.stdout).toMatch(/^the copy lived .+ \(made in .+\)$/m);
    expect(run.stdout).toMatch(/^dropped the copy offpeak_rehearsal_/m);
  });

  it('refuses a source with other sessions, naming how many and which applications, and leaves no copy', async () => {
    const source = await sourceDatabase();
    const holder = new pg.Client({ connectionString: source.url, application_name: 'billing-api' });
    await holder.connect();
    try {
      const run = await runCli(['rehearse', '--migrations', migrations(), '--database-url', source.url, '--json']);
      expect(run.code).toBe(3);
      const doc = JSON.parse(run.stdout) as { error: { code: string; message: string; hint: string } };
      expect(doc.error.code).toBe('source_busy');
      expect(doc.error.message).toMatch(/it has 1 \(billing-api \(1\)\); rehearse from a dump instead \(pg_dump -Fc .*--from-dump/);
      expect(doc.error.hint).toMatch(/--from-dump FILE/);
      expect(await copiesOf(source.name)).toEqual([]);
    } finally {
      await holder.end();
    }
  });

  it('--from-dump restores a pg_dump (custom format, and plain SQL) while the source is busy, and rehearses on it', async () => {
    const source = await sourceDatabase();
    const dir = scratchDir('rehearse-dump');
    cleanup.push(() => dir.dispose());
    const custom = join(dir.path, 'source.dump');
    const plain = join(dir.path, 'source.sql');
    execFileSync('pg_dump', ['-Fc', '--file', custom, source.url]);
    execFileSync('pg_dump', ['--file', plain, source.url]);
    const holder = new pg.Client({ connectionString: source.url, application_name: 'billing-api' });
    await holder.connect();
    try {
      for (const file of [custom, plain]) {
        const run = await runCli(['rehearse', '--migrations', migrations(), '--database-url', source.url, '--from-dump', file, '--json']);
        expect(run.code, run.stderr).toBe(0);
        expect(JSON.parse(run.stdout)).toMatchObject({ status: 'done', samplesRecorded: 2 });
      }
      expect(await copiesOf(source.name)).toEqual([]);
      const after = await sourceState(source.name);
      expect(after.indexes).toBe(0);
      expect(after.samples.filter((s) => s.source === 'rehearsal')).toHaveLength(4);
    } finally {
      await holder.end();
    }
  });

  it('a migration failing on the copy exits 1 with the error, records the builds that finished, and still drops the copy', async () => {
    const source = await sourceDatabase();
    const run = await runCli(['rehearse', '--migrations', migrations({ failing: true }), '--database-url', source.url, '--json']);
    expect(run.code).toBe(1);
    const doc = JSON.parse(run.stdout) as { status: string; error: { message: string; revision: string; step: number }; samplesRecorded: number };
    expect(doc.status).toBe('failed');
    expect(doc.error).toMatchObject({ revision: '202603010002', step: 1 });
    expect(doc.error.message).toMatch(/division by zero/);
    expect(doc.samplesRecorded).toBe(1);
    expect(await copiesOf(source.name)).toEqual([]);
    expect((await sourceState(source.name)).indexes).toBe(0);
  });

  it('Ctrl-C during the plan cancels the statement, drops the copy and exits 130', async () => {
    const source = await sourceDatabase();
    const m = migrations({ sleeping: true });
    const child = spawn(process.execPath, [join(repoRoot, 'bin/offpeak.js'), 'rehearse', '--migrations', m, '--database-url', source.url], { cwd: repoRoot, env: { ...process.env, DATABASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    const sent = { done: false };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += String(chunk);
      // The sleep is running once its step has started (and its statement is then cancelled by the interrupt).
      if (!sent.done && /step 2: sleep a minute/.test(stdout)) {
        sent.done = true;
        setTimeout(() => child.kill('SIGINT'), 500);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, `${stdout}\n${stderr}`).toBe(130);
    expect(stdout).toMatch(/^dropped the copy offpeak_rehearsal_/m);
    expect(await copiesOf(source.name)).toEqual([]);
  });
});

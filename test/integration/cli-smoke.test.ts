import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { createPgliteClient, openPglite } from '../../lambdas/core/db/pglite.ts';
import { loadMigrationsFromDir } from '../../lambdas/core/migrations/load-dir.ts';
import { createMigrator } from '../../lambdas/core/migrations/runner.ts';
import { commands } from '../../scripts/cli/registry.ts';
import { repoRoot, runCli, scratchDir, writeMigration, type CliRun } from '../support/cli.ts';
import { createTestDatabase, postgresqlPass, testDatabaseUrl, type TestDatabase } from '../support/database.ts';

/**
 * One smoke test per CLI verb, on this pass's database (a scratch PostgreSQL database when
 * TEST_DATABASE_URL is set, an on-disk PGlite otherwise): the exit code, the shape of the text
 * output, and that --json (or --format json) prints one JSON document. Each test makes its own
 * database and migrations, so none depends on another or on their order. The first test fails when
 * a verb is listed in the registry without a smoke test here.
 */

const scratch: Array<{ dispose(): void | Promise<void> }> = [];
afterAll(async () => {
  for (const s of scratch.reverse()) await s.dispose();
});

/** Two migrations: a table (transactional), then an index built concurrently on it. */
function migrationsDir(): string {
  const dir = scratchDir('smoke-m');
  scratch.push(dir);
  writeMigration(dir.path, { revision: '202601010000', downRevision: null, table: 'smoke' });
  writeMigration(dir.path, {
    revision: '202601010001',
    downRevision: '202601010000',
    file: '202601010001_smoke_index.ts',
    body: `up: [createIndex({ name: 'idx_smoke_v', table: 'smoke', columns: ['v'] })],`,
  });
  return dir.path;
}

/** A fresh target of this pass's kind, as CLI flags. */
async function freshTarget(): Promise<string[]> {
  return (await freshDatabase()).args;
}

/** A fresh target, with a way to reach it from the test itself (between CLI calls). */
async function freshDatabase(): Promise<{ args: string[]; withClient<T>(fn: (client: SqlClient) => Promise<T>): Promise<T> }> {
  if (testDatabaseUrl) {
    const db: TestDatabase = await createTestDatabase();
    scratch.push(db);
    return { args: ['--database-url', db.url!], withClient: (fn) => fn(db.client) };
  }
  const dir = scratchDir('smoke-db');
  scratch.push(dir);
  const dataDir = join(dir.path, 'db');
  return {
    args: ['--pglite-dir', dataDir],
    async withClient(fn) {
      const client = createPgliteClient(await openPglite({ dataDir }));
      try {
        return await fn(client);
      } finally {
        await client.close();
      }
    },
  };
}

/** The run's stdout as one JSON document (fails with the output when it is not). */
function json(run: CliRun): Record<string, unknown> {
  expect(run.code, run.stderr).toBe(0);
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`stdout is not one JSON document: ${(error as Error).message}\n${run.stdout}`, { cause: error });
  }
}

function text(run: CliRun, shape: RegExp): void {
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(shape);
}

let atHead: Promise<{ m: string; target: string[] }> | undefined;
/**
 * A database at head with the two migrations, made once (lazily, whichever test asks first) for the
 * verbs that only read it or add what the others do not look at (snapshot rows, the ANALYZE log):
 * each PGlite open costs seconds, so the read-only verbs share it.
 */
function upgraded(): Promise<{ m: string; target: string[] }> {
  atHead ??= (async () => {
    const m = migrationsDir();
    const target = await freshTarget();
    const up = await runCli(['upgrade', 'head', '--migrations', m, ...target]);
    expect(up.code, up.stderr).toBe(0);
    return { m, target };
  })();
  return atHead;
}

type Smoke = () => Promise<void>;

const SMOKE: Record<string, Smoke> = {
  async start() {
    const m = migrationsDir();
    const dir = scratchDir('smoke-start');
    scratch.push(dir);
    const args = ['start', '--migrations', m, '--pglite-dir', join(dir.path, 'db')];
    text(await runCli(args), /^upgrade: applied 2 migration\(s\): 202601010000, 202601010001$[\s\S]*^current revision: 202601010001 \(head\)$[\s\S]*^verified indexes: 1 of 1 idx_ indexes valid$/m);
    const doc = json(await runCli([...args, '--json']));
    expect(doc).toMatchObject({ current: ['202601010001'], indexes: [{ table_name: 'smoke', index_name: 'idx_smoke_v', valid: true }] });
  },
  async doctor() {
    const { m, target } = await upgraded();
    text(await runCli(['doctor', '--migrations', m, ...target]), /^reachable +OK +the database answers$[\s\S]*^all checks passed$/m);
    expect(json(await runCli(['doctor', '--migrations', m, ...target, '--json']))).toMatchObject({ ok: true, findings: expect.arrayContaining([expect.objectContaining({ check: 'reachable', status: 'ok' })]) });
  },
  async runs() {
    const { m, target } = await upgraded();
    text(await runCli(['runs', '--migrations', m, ...target]), /^no unfinished runs$/m);
    expect(json(await runCli(['runs', '--migrations', m, ...target, '--json']))).toEqual({ runs: [] });
  },
  async 'runs abandon'() {
    const m = migrationsDir();
    const db = await freshDatabase();
    // An unfinished run: started, never advanced.
    const runId = await db.withClient(async (client) => {
      const migrator = createMigrator({ client, migrations: await loadMigrationsFromDir(m), actor: 'test:smoke' });
      return (await migrator.start('up', 'head')).runId;
    });
    text(await runCli(['runs', '--migrations', m, ...db.args]), new RegExp(`^${runId}\\b`, 'm'));
    expect(json(await runCli(['runs', 'abandon', runId, '--migrations', m, ...db.args, '--json']))).toEqual({ abandoned: runId });
    text(await runCli(['runs', '--migrations', m, ...db.args]), /^no unfinished runs$/m);
  },
  async current() {
    const { m, target } = await upgraded();
    text(await runCli(['current', '--migrations', m, ...target]), /^202601010001\b/m);
    expect(json(await runCli(['current', '--migrations', m, ...target, '--json']))).toMatchObject({ current: ['202601010001'], pending: [] });
  },
  async upgrade() {
    const m = migrationsDir();
    const target = await freshTarget();
    text(await runCli(['upgrade', '202601010000', '--migrations', m, ...target]), /^upgrade 202601010000: /m);
    expect(json(await runCli(['upgrade', 'head', '--migrations', m, ...target, '--json']))).toMatchObject({ direction: 'up', applied: ['202601010001'], status: 'done' });
  },
  async downgrade() {
    const m = migrationsDir();
    const target = await freshTarget();
    expect((await runCli(['upgrade', 'head', '--migrations', m, ...target])).code).toBe(0);
    text(await runCli(['downgrade', '-1', '--migrations', m, ...target]), /^downgrade 202601010001: /m);
    expect(json(await runCli(['downgrade', 'base', '--migrations', m, ...target, '--json']))).toMatchObject({ direction: 'down', status: 'done' });
  },
  async rehearse() {
    const m = migrationsDir();
    const target = await freshTarget();
    if (!testDatabaseUrl) {
      // PGlite holds one database, so there is nothing to copy it into: refused, as usage.
      const refused = await runCli(['rehearse', '--migrations', m, ...target, '--json']);
      expect(refused.code).toBe(2);
      expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'bad_usage', message: expect.stringMatching(/PGlite holds only one database/) } });
      return;
    }
    text(await runCli(['rehearse', 'head', '--migrations', m, ...target]), /^rehearsed units:$[\s\S]*^dropped the copy offpeak_rehearsal_/m);
    expect(json(await runCli(['rehearse', '--migrations', m, ...target, '--json']))).toMatchObject({ status: 'done', samplesRecorded: 1, units: [{ revision: '202601010000' }, { revision: '202601010001', step: 0 }] });
  },
  async preflight() {
    const m = migrationsDir();
    const target = await freshTarget();
    expect((await runCli(['upgrade', '202601010000', '--migrations', m, ...target])).code).toBe(0);
    text(await runCli(['preflight', '--migrations', m, ...target]), /^202601010001 +step 1 +btree +public\.idx_smoke_v +[\d.]+ (bytes|kB)\b[\s\S]*^total: /m);
    const doc = json(await runCli(['preflight', 'head', '--window', '01:00,60', '--free-bytes', '1000000000', '--migrations', m, ...target, '--json']));
    expect(Object.keys(doc).sort()).toEqual(['totalBytes', 'totalSeconds', 'units', 'warnings', 'window']);
    expect(doc).toMatchObject({
      units: [{ revision: '202601010001', step: 0, kind: 'btree', index: 'public.idx_smoke_v', table: 'public.smoke', estimatedTempBytes: 0, calibrated: false }],
      window: { minutes: 60, fits: true, unitsThatFit: 1 },
    });
  },
  async stamp() {
    const m = migrationsDir();
    const target = await freshTarget();
    text(await runCli(['stamp', '202601010000', '--migrations', m, ...target]), /^stamped: the ledger now says 202601010000; no migration ran$/m);
    const doc = json(await runCli(['stamp', 'head', '--migrations', m, ...target, '--json']));
    expect(JSON.stringify(doc)).toContain('202601010001');
    expect(json(await runCli(['current', '--migrations', m, ...target, '--json']))).toMatchObject({ current: ['202601010001'] });
  },
  async heads() {
    const m = migrationsDir();
    text(await runCli(['heads', '--migrations', m]), /^202601010001 +\(head\)/m);
    expect(JSON.stringify(json(await runCli(['heads', '--migrations', m, '--json'])))).toContain('202601010001');
  },
  async history() {
    const m = migrationsDir();
    text(await runCli(['history', '--migrations', m]), /^202601010000 -> 202601010001 \(head\)[\s\S]*^<base> -> 202601010000/m);
    expect(JSON.stringify(json(await runCli(['history', '--migrations', m, '--json'])))).toContain('202601010000');
  },
  async show() {
    const m = migrationsDir();
    text(await runCli(['show', '202601010001', '--migrations', m]), /^Rev: 202601010001 \(head\)$[\s\S]*^Parent: 202601010000$/m);
    expect(json(await runCli(['show', '202601010001', '--migrations', m, '--json']))).toMatchObject({ revision: '202601010001' });
  },
  async new() {
    const m = migrationsDir();
    text(await runCli(['new', 'smoke_text', '--rev-id', '202601010002', '--migrations', m]), /202601010002_smoke_text\.ts/);
    // A new migration's template has no step yet, so the next `new` needs a directory of its own.
    const other = migrationsDir();
    expect(json(await runCli(['new', 'smoke_json', '--rev-id', '202601010003', '--migrations', other, '--json']))).toMatchObject({ revision: '202601010003', downRevision: '202601010001' });
  },
  async revision() {
    const m = migrationsDir();
    text(await runCli(['revision', '-m', 'Smoke text', '--rev-id', '202601010002', '--migrations', m]), /202601010002_smoke_text\.ts/);
    expect(json(await runCli(['revision', '-m', 'smoke json', '--rev-id', '202601010003', '--migrations', m, '--json']))).toMatchObject({ revision: '202601010003', downRevision: '202601010002' });
  },
  async merge() {
    // Two heads: a sibling of 202601010001 written by new --head
    const m = migrationsDir();
    expect((await runCli(['new', 'sibling', '--head', '202601010000', '--rev-id', '202601010002', '--migrations', m])).code).toBe(0);
    text(await runCli(['merge', '--rev-id', '202601010003', '--migrations', m]), /merges 202601010001, 202601010002; no steps/);
    const other = migrationsDir();
    expect((await runCli(['new', 'sibling', '--head', '202601010000', '--rev-id', '202601010002', '--migrations', other])).code).toBe(0);
    expect(json(await runCli(['merge', 'heads', '--rev-id', '202601010003', '--migrations', other, '--json']))).toMatchObject({ downRevisions: ['202601010001', '202601010002'] });
  },
  async check() {
    const m = migrationsDir();
    expect((await runCli(['check', '--migrations', m, '--fix-registry'])).code).toBe(0);
    text(await runCli(['check', '--migrations', m]), /^ok: 2 migration\(s\), head 202601010001/m);
    expect(json(await runCli(['check', '--migrations', m, '--json']))).toMatchObject({ ok: true, migrations: 2, problems: [] });
  },
  async lint() {
    const m = migrationsDir();
    text(await runCli(['lint', m]), /^0 error\(s\), 0 warning\(s\) in 2 file\(s\)$/m);
    expect(json(await runCli(['lint', m, '--format', 'json']))).toBeTypeOf('object');
  },
  async squash() {
    const m = migrationsDir();
    text(await runCli(['squash', '--to', '202601010001', '--rev-id', '202601020000', '--name', 'squashed', '--migrations', m]), /202601020000_squashed\.ts/);
    const other = migrationsDir();
    expect(JSON.stringify(json(await runCli(['squash', '--to', '202601010001', '--rev-id', '202601020000', '--migrations', other, '--json'])))).toContain('202601020000');
  },
  async 'data-api serve'() {
    const target = await freshTarget();
    const child = spawn(process.execPath, [join(repoRoot, 'bin/offpeak.js'), 'data-api', 'serve', '--port', '0', ...target], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      const endpoint = await new Promise<string>((done, fail) => {
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          const found = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
          if (found) done(found[1]!);
        });
        void exited.then((code) => fail(new Error(`data-api serve exited with ${code} before listening:\n${stdout}\n${stderr}`)));
      });
      const client = new RDSDataClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
      const arn = 'arn:aws:rds:us-east-1:000000000000:cluster:smoke';
      const result = await client.send(new ExecuteStatementCommand({ resourceArn: arn, secretArn: `${arn}:secret`, sql: 'SELECT 41 + 1 AS answer', formatRecordsAs: 'JSON' }));
      expect(JSON.parse(result.formattedRecords!)).toEqual([{ answer: 42 }]);
      client.destroy();
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain('shutting down');
  },
  async analyze() {
    const { target } = await upgraded();
    text(await runCli(['analyze', '--all', ...target]), /table|ANALYZE/i);
    expect(json(await runCli(['analyze', ...target, '--json']))).toMatchObject({ queued: expect.any(Number), remaining: expect.any(Number) });
  },
  async snapshot() {
    const { target } = await upgraded();
    text(await runCli(['snapshot', ...target]), /^snapshot \d{4}-\d\d-\d\dT[\d:.]+Z: \d+ indexes recorded/m);
    expect(json(await runCli(['snapshot', ...target, '--json']))).toMatchObject({ indexes: expect.any(Number), deleted: 0 });
  },
  async report() {
    const { target } = await upgraded();
    text(await runCli(['report', ...target]), /^offpeak index health report: [\s\S]*^SUMMARY$/m);
    expect(json(await runCli(['report', ...target, '--format', 'json']))).toMatchObject({ findings: expect.any(Array), writerOnly: expect.any(Boolean) });
  },
  async 'verify-plans'() {
    const dir = scratchDir('smoke-plans');
    scratch.push(dir);
    writeMigration(dir.path, { revision: '202601010000', downRevision: null, table: 'smoke' });
    writeMigration(dir.path, {
      revision: '202601010001',
      downRevision: '202601010000',
      file: '202601010001_smoke_index.ts',
      body: `up: [createIndex({ name: 'idx_smoke_v', table: 'smoke', columns: ['v'] })],
  expect: [{ name: 'smoke by v', sql: 'SELECT id FROM public.smoke WHERE v = $1', params: [1], usesIndex: 'idx_smoke_v' }],`,
    });
    const target = await freshTarget();
    expect((await runCli(['upgrade', 'head', '--migrations', dir.path, ...target])).code).toBe(0);
    // An empty table: the index is usable, a seq scan is cheaper, and the output says so; exit 0.
    text(await runCli(['verify-plans', '--migrations', dir.path, ...target]), /^202601010001 "smoke by v" → idx_smoke_v: usable but NOT chosen: [\s\S]*^1 expectation\(s\): 0 used, 1 usable but not chosen, 0 not usable, 0 failed, 0 skipped$/m);
    expect(json(await runCli(['verify-plans', '--migrations', dir.path, ...target, '--json']))).toMatchObject({
      checks: [{ revision: '202601010001', name: 'smoke by v', index: 'idx_smoke_v', usable: true, chosen: false }],
      holds: true,
    });
  },
  async 'invoke rollback'() {
    const lambda = mockClient(LambdaClient);
    try {
      const plan = { status: 'dry_run', current: ['202601010001'], target: '202601010000', revert: [{ revision: '202601010001', description: 'index', risk: 'low' }], statements: [{ revision: '202601010001', sql: 'DROP INDEX CONCURRENTLY IF EXISTS public.idx_smoke_v' }], sql: 'DROP INDEX CONCURRENTLY IF EXISTS public.idx_smoke_v;\n' };
      lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(plan)) as never });
      const argv = ['invoke', 'rollback', '--to', '-1', '--function', 'offpeak-rollback', '--region', 'eu-west-1', '--dry-run'];
      text(await runCli(argv), /roll back to: 202601010000/);
      expect(json(await runCli([...argv, '--json']))).toMatchObject({ status: 'dry_run', target: '202601010000' });
    } finally {
      lambda.restore();
    }
  },
};

describe('CLI smoke: every verb, its exit code, text shape and JSON', () => {
  beforeAll(() => {
    process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
  });

  it('has a smoke test for every verb in the registry', () => {
    expect(Object.keys(SMOKE).sort()).toEqual(commands.map((c) => c.name).sort());
  });

  for (const [verb, smoke] of Object.entries(SMOKE)) {
    // `start` always runs on PGlite on disk: its smoke test runs in the PGlite pass.
    it.skipIf(verb === 'start' && postgresqlPass)(`offpeak ${verb}`, smoke);
  }
});

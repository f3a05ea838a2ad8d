import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { sql } from '../../lambdas/core/db/sql.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestDataApi, type TestDataApi } from '../support/data-api.ts';
import { repoRoot, runCli, scratchDir, writeMigration } from '../support/cli.ts';
import { openPgliteClient } from '../../scripts/cli/pglite-target.ts';

/**
 * SIGINT mid-step (issue 17 item 1): the CLI cancels the running statement, rolls its transaction back,
 * releases the lease, says what it interrupted and exits 130; the same command then resumes at once.
 * On PostgreSQL, directly and through the local Data API server. (PGlite runs statements on the
 * JavaScript thread: there the signal is seen between statements, so the sleep is short.)
 */
interface Child {
  code: number | null;
  stdout: string;
  stderr: string;
  /** ms from the SIGINT to the exit. */
  exitMs: number;
}

/** Runs the CLI as a process and sends SIGINT once `line` appears on stdout (after `settleMs`, so the statement runs). */
function interruptCli(args: string[], line: RegExp, settleMs: number): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/offpeak.js'), ...args], { cwd: repoRoot, env: { ...process.env, DATABASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    let sentAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += String(chunk);
      if (sentAt === undefined && line.test(stdout)) {
        sentAt = -1;
        setTimeout(() => {
          sentAt = Date.now();
          child.kill('SIGINT');
        }, settleMs);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, exitMs: sentAt && sentAt > 0 ? Date.now() - sentAt : -1 }));
  });
}

/** Two migrations on table `ns_items`: the second adds a column (strong lock) and then sleeps `cfg.s` seconds in the same transaction. */
function writeMigrations(dir: string, table: string): void {
  mkdirSync(dir, { recursive: true });
  writeMigration(dir, { revision: '202602010001', downRevision: null, table });
  writeMigration(dir, {
    revision: '202602010002',
    downRevision: '202602010001',
    body: `up: [
    sqlStep('ALTER TABLE public.${table} ADD COLUMN note text', { tables: ['${table}'] }),
    sqlStep('SELECT pg_sleep((SELECT s FROM public.${table}_cfg))', { lock: 'none', description: 'sleep while holding the lock' }),
  ],
  down: [sqlStep('ALTER TABLE public.${table} DROP COLUMN note', { tables: ['${table}'] })],`,
  });
}

async function assessAfterInterrupt(client: SqlClient, table: string) {
  const locks = await client.query<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = ${table} AND l.pid <> pg_backend_pid()`,
  );
  const sleeping = await client.query<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%pg_sleep%'`,
  );
  const lease = await client.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM offpeak.lease WHERE expires_at >= clock_timestamp()`);
  const column = await client.query<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = ${table} AND column_name = 'note'`,
  );
  return { locks: locks.rows[0]!.n, sleeping: sleeping.rows[0]!.n, leaseHeld: lease.rows[0]!.n, noteColumn: column.rows[0]!.n };
}

/** Runs `fn` with a client to the database (PGlite on disk: opened only while no CLI process has it). */
type WithClient = <T>(fn: (client: SqlClient) => Promise<T>) => Promise<T>;

async function scenario(name: string, withClient: WithClient, target: string[], sleepSeconds: number, kind: 'pg' | 'pglite') {
  // Prepare
  const dir = scratchDir(`interrupt-${name}`);
  try {
    const table = `items_${name.replace(/\W/g, '_')}_${Date.now() % 100_000}`;
    const migrations = join(dir.path, 'migrations');
    writeMigrations(migrations, table);
    const cfg = sql.ident('public', `${table}_cfg`);
    await withClient(async (client) => {
      await client.query(sql`CREATE TABLE ${cfg} (s float8)`);
      await client.query(sql`INSERT INTO ${cfg} VALUES (${sleepSeconds})`);
    });
    const args = ['upgrade', 'head', '--migrations', migrations, ...target];

    // Act
    const child = await interruptCli(args, /step 2: sleep while holding the lock/, 500);
    const after = await withClient(async (client) => {
      const seen = await assessAfterInterrupt(client, table);
      await client.query(sql`UPDATE ${cfg} SET s = 0`);
      return seen;
    });
    const rerun = await runCli(args);

    // Assess
    const context = `${name}: exit ${child.code} after ${child.exitMs} ms\n${child.stdout}\n${child.stderr}`;
    console.info(`${name}: SIGINT mid-step → exit ${child.code} ${child.exitMs} ms after the signal (statement sleeps ${sleepSeconds} s)`);
    expect(child.code, context).toBe(130);
    expect(child.stdout, context).toMatch(/interrupted: 202602010002 up \(synthetic 202602010002\)[^;]*; run the same command to resume/);
    expect(after, context).toEqual({ locks: 0, sleeping: 0, leaseHeld: 0, noteColumn: 0 });
    if (kind === 'pg') expect(child.exitMs, context).toBeLessThan(sleepSeconds * 1000 / 2); // cancelled, not waited out
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/resuming run/);
    expect(rerun.stdout).toMatch(/upgraded to head: 202602010002/);
  } finally {
    dir.dispose();
  }
}

describe('SIGINT mid-step', () => {
  let db: TestDatabase;
  let api: TestDataApi;
  beforeAll(async () => {
    db = await createTestDatabase();
    api = await startTestDataApi();
  }, 120_000);
  afterAll(async () => {
    await db?.dispose();
    await api?.dispose();
  });

  it('directly: cancels the statement, rolls back, releases the lease, exits 130; the rerun resumes at once', async () => {
    if (db.kind === 'pg') {
      await scenario('pg', (fn) => fn(db.client), ['--database-url', db.url!], 30, 'pg');
      return;
    }
    // PGlite on disk: the CLI process sees the signal after the statement, before the commit.
    const dir = scratchDir('interrupt-pglite-db');
    const dataDir = join(dir.path, 'db');
    try {
      const withClient: WithClient = async (fn) => {
        const client = await openPgliteClient({ dataDir, waitForLock: true });
        try {
          return await fn(client);
        } finally {
          await client.close();
        }
      };
      await scenario('pglite', withClient, ['--pglite-dir', dataDir], 3, 'pglite');
    } finally {
      dir.dispose();
    }
  }, 120_000);

  it('through the Data API: the same, the transaction rolled back with RollbackTransaction', async (ctx) => {
    // Over PGlite the server runs statements on this test's own thread, which then cannot send the signal mid-statement.
    if (api.db.kind !== 'pg') ctx.skip();
    const target = ['--data-api-endpoint', api.endpoint, '--resource-arn', api.resourceArn, '--secret-arn', api.secretArn, '--database', api.database];
    await scenario('data-api', (fn) => fn(api.db.client), target, 30, 'pg');
  }, 120_000);
});

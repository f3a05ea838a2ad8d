import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStatements } from '../../lambdas/core/db/statements.ts';
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from '../support/database.ts';
import { runCli, scratchDir } from '../support/cli.ts';

/**
 * `upgrade head --sql --offline` and `downgrade FROM:TO --sql --offline`: scripts from the files alone, with the
 * ledger's DDL and bookkeeping as real statements. Run as a DBA would (psql on PostgreSQL; statement by statement
 * on PGlite), the database ends where `upgrade head` would have left it, and offpeak's own checks agree.
 */
const scratch = scratchDir('offline-sql');
let db: TestDatabase | undefined;
let target: string[];

/** What a DBA does with a conditional step on a server without the extension: delete it. */
function withoutVectorSteps(script: string): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of script.split('\n')) {
    if (line.startsWith('-- only if extension vector is available')) skipping = true;
    else if (skipping) skipping = !line.trimEnd().endsWith(';');
    else out.push(line);
  }
  return out.join('\n');
}

async function runScript(script: string): Promise<void> {
  if (db) {
    const file = join(scratch.path, `script-${Date.now()}.sql`);
    writeFileSync(file, db.hasVector ? script : withoutVectorSteps(script));
    const psql = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url!, '-f', file], { encoding: 'utf8' });
    expect(psql.status, psql.stderr).toBe(0);
    return;
  }
  // PGlite: one statement at a time on its one connection, as psql sends them (BEGIN/COMMIT included).
  const { openPglite } = await import('../../lambdas/core/db/pglite.ts');
  const pglite = await openPglite({ dataDir: join(scratch.path, 'db') });
  try {
    for (const s of await parseStatements(script)) await pglite.exec(s.text);
  } finally {
    await pglite.close();
  }
}

beforeAll(async () => {
  if (testDatabaseUrl) {
    db = await createTestDatabase();
    target = ['--database-url', db.url!];
  } else {
    target = ['--pglite-dir', join(scratch.path, 'db')];
  }
}, 60_000);

afterAll(async () => {
  await db?.dispose();
  scratch.dispose();
});

describe('offline SQL', () => {
  it('renders from the files with no database, ledger statements real, standalone steps marked', async () => {
    // Act: a DATABASE_URL nobody answers shows that nothing is read
    const run = await runCli(['upgrade', 'head', '--sql', '--offline'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const text = run.stdout;
    expect(text).toMatch(/^-- offpeak upgrade head: rendered offline/);
    expect(text).toContain('DO $ledger$ BEGIN');
    expect(text).toContain('INSERT INTO "offpeak"."applied_migrations" (revision, checksum, duration_ms, actor, description, recorded_only) VALUES (\'803b93aca2d2\'');
    expect(text).toMatch(/-- outside a transaction \(autocommit\):\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_/);
    expect(text).toContain('-- only if extension vector is available: delete this statement otherwise');
    expect(text).not.toMatch(/^-- record /m);
    // every statement parses, one at a time
    expect((await parseStatements(text)).length).toBeGreaterThan(50);
  });

  it('refuses a downgrade without a range, and --offline with a target or without --sql', async () => {
    const down = await runCli(['downgrade', '202508230001', '--sql', '--offline']);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('needs a range FROM:TO');
    const withTarget = await runCli(['upgrade', 'head', '--sql', '--offline', '--database-url', 'postgres://u@h/d']);
    expect(withTarget.code).toBe(2);
    expect(withTarget.stderr).toContain('--offline reads no database: drop --database-url');
    const noSql = await runCli(['upgrade', 'head', '--offline']);
    expect(noSql.code).toBe(2);
  });

  it('run as a DBA would, the script leaves the database where upgrade head would; the downgrade range script takes it back', async () => {
    // Act: the upgrade script
    await runScript((await runCli(['upgrade', 'head', '--sql', '--offline'])).stdout);

    // Assess: offpeak sees head applied with matching checksums, and nothing to do
    const current = await runCli(['current', '--json', ...target]);
    expect(current.code, current.stderr).toBe(0);
    expect(JSON.parse(current.stdout)).toMatchObject({ current: ['803b93aca2d2'], pending: [], warnings: [] });
    const check = await runCli(['check', ...target]);
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toContain('ledger checksums match');
    const up = await runCli(['upgrade', 'head', '--json', ...target]);
    expect(JSON.parse(up.stdout)).toMatchObject({ status: 'done', total: 0 });

    // Act: the downgrade range, Alembic style
    const down = await runCli(['downgrade', '803b93aca2d2:202508230001', '--sql', '--offline']);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain('DELETE FROM "offpeak"."applied_migrations" WHERE revision IN (\'803b93aca2d2\')');
    await runScript(down.stdout);

    // Assess
    const after = JSON.parse((await runCli(['current', '--json', ...target])).stdout);
    expect(after).toMatchObject({ current: ['202508230001'], pending: ['803b93aca2d2'] });
  }, 180_000);

  it('upgrade FROM:TO renders only the migrations in the range', async () => {
    const run = await runCli(['upgrade', '202508190001:202508230001', '--sql', '--offline']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('-- Running upgrade 202508230001');
    expect(run.stdout).not.toContain('-- Running upgrade 202508190001');
    expect(run.stdout).not.toContain('-- Running upgrade 803b93aca2d2');
  });
});

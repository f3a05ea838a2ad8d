import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPgliteClient, openPglite } from '../../lambdas/core/db/pglite.ts';
import { SqlQuery } from '../../lambdas/core/db/sql.ts';
import { openCliTarget, repoRoot, runCli, scratchDir, writeMigration, type CliTarget } from '../support/cli.ts';

/**
 * Plan proof through the CLI on the seed migrations (PGlite by default, PostgreSQL with TEST_DATABASE_URL):
 * `upgrade` prints and returns the checks; `verify-plans` re-checks them and exits 1 once one does not hold.
 */
const seed = join(repoRoot, 'migrations');
const cleanup: Array<{ dispose(): void | Promise<void> }> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c.dispose();
});

async function execute(target: CliTarget, dir: string, statement: string): Promise<void> {
  if (target.url) {
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
    return;
  }
  const client = createPgliteClient(await openPglite({ dataDir: join(dir, 'db') }));
  try {
    await client.query(new SqlQuery([statement]));
  } finally {
    await client.close();
  }
}

interface Checks {
  checks: Array<{ revision: string; name: string; index: string; usable: boolean | null; chosen: boolean | null; outcome: string }>;
  holds: boolean;
}

describe('plan proof on the seed (CLI)', () => {
  it('upgrade reports the seed expectations honestly; verify-plans fails once an expected index is dropped', async () => {
    // Prepare
    const dir = scratchDir('plan-proof');
    cleanup.push(dir);
    const target = await openCliTarget(dir.path);
    cleanup.push(target);
    const pglite = target.url === undefined; // PGlite ships pgvector; Debian's PostgreSQL 15 here does not

    // Act
    const up = await runCli(['upgrade', 'head', '--migrations', seed, ...target.args]);

    // Assess: empty tables, so usable but not chosen, said as such; the vector search is skipped without pgvector.
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(new RegExp(`^plan proof: ${pglite ? '3/3' : '2/2'} expectation\\(s\\) usable${pglite ? '' : ', 1 skipped'}$`, 'm'));
    expect(up.stdout).toMatch(/^ {2}803b93aca2d2 "assistants of a user, newest first" → idx_assistants_user_id_created_at: usable but NOT chosen: the planner prefers Limit > Sort > Seq Scan on assistants .*~0 row\(s\)/m);
    if (!pglite) expect(up.stdout).toMatch(/"nearest knowledge chunks \(cosine\)" → idx_knowledge_embeddings_embedding_ivfflat: skipped: .*extension vector/);

    const first = await runCli(['verify-plans', '--migrations', seed, ...target.args, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const before = JSON.parse(first.stdout) as Checks;
    expect(before.holds).toBe(true);
    expect(before.checks.map((c) => [c.name, c.usable, c.chosen])).toEqual([
      ['assistants of a user, newest first', true, false],
      ['dialogs of a user by last message', true, false],
      ['nearest knowledge chunks (cosine)', pglite ? true : null, pglite ? false : null],
    ]);

    // Act: the N+1 fix's index is dropped behind offpeak's back.
    await execute(target, dir.path, 'DROP INDEX public.idx_assistants_user_id_created_at');
    const after = await runCli(['verify-plans', '--migrations', seed, ...target.args, '--json']);

    // Assess: exit 1 (a check does not hold), and which one.
    expect(after.code, after.stderr).toBe(1);
    const doc = JSON.parse(after.stdout) as Checks;
    expect(doc.holds).toBe(false);
    expect(doc.checks[0]).toMatchObject({ revision: '803b93aca2d2', name: 'assistants of a user, newest first', index: 'idx_assistants_user_id_created_at', usable: false, chosen: false, outcome: 'unusable' });
    const text = await runCli(['verify-plans', '--migrations', seed, ...target.args]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/idx_assistants_user_id_created_at: NOT USABLE: index idx_assistants_user_id_created_at does not exist/);
  }, 300_000);

  it('check accepts expectations and refuses one that is not exactly one query the parser reads', async () => {
    // Prepare
    const dir = scratchDir('plan-proof-check');
    cleanup.push(dir);
    writeMigration(dir.path, { revision: '202601010000', downRevision: null, table: 'pc' });
    writeMigration(dir.path, {
      revision: '202601010001',
      downRevision: '202601010000',
      file: '202601010001_pc_index.ts',
      body: `up: [createIndex({ name: 'idx_pc_v', table: 'pc', columns: ['v'] })],
  expect: [
    { name: 'fine', sql: 'SELECT id FROM public.pc WHERE v = $1', usesIndex: 'idx_pc_v' },
    { name: 'two', sql: 'SELECT 1; SELECT 2', usesIndex: 'idx_pc_v' },
    { name: 'garbled', sql: 'SELECT FROM WHERE (', usesIndex: 'idx_pc_v' },
  ],`,
    });
    await runCli(['check', '--fix-registry', '--migrations', dir.path]);

    // Act
    const check = await runCli(['check', '--migrations', dir.path]);

    // Assess
    expect(check.code).toBe(2);
    expect(check.stdout).toMatch(/expectation "two" has 2 statements: give one query/);
    expect(check.stdout).toMatch(/expectation "garbled": SQL does not parse/);
    expect(check.stdout).not.toMatch(/"fine"/);
  }, 120_000);
});

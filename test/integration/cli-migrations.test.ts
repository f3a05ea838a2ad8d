import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from '../support/database.ts';
import { runCli, scratchDir, seedMigrationsDir, writeMigration } from '../support/cli.ts';

/**
 * The CLI verbs end to end on this file's database: a scratch PostgreSQL database when
 * TEST_DATABASE_URL is set (no pgvector here: vector steps are reported as skipped), otherwise an
 * on-disk PGlite (pgvector available: the IVFFlat index is built).
 */
let db: TestDatabase | undefined;
let pgliteDir: ReturnType<typeof scratchDir> | undefined;
let target: string[];
/** A second, empty database for the bad-input tests (their migrations must not meet the seed's ledger). */
let otherTarget: string[];
let otherDb: TestDatabase | undefined;
let hasVector: boolean;

async function indexNames(): Promise<string[]> {
  const text = `SELECT indexrelid::regclass::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'idx\\_%' ORDER BY 1`;
  if (db?.kind === 'pg') {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query<{ name: string }>(text)).rows.map((r) => r.name);
    } finally {
      await client.end();
    }
  }
  // PGlite: the CLI has closed the directory; open it for a moment.
  const { openPglite } = await import('../../lambdas/core/db/pglite.ts');
  const p = await openPglite({ dataDir: join(pgliteDir!.path, 'db') });
  try {
    return (await p.query<{ name: string }>(text)).rows.map((r) => r.name);
  } finally {
    await p.close();
  }
}

beforeAll(async () => {
  if (testDatabaseUrl) {
    db = await createTestDatabase();
    target = ['--database-url', db.url!];
    otherDb = await createTestDatabase();
    otherTarget = ['--database-url', otherDb.url!];
    hasVector = db.hasVector;
  } else {
    pgliteDir = scratchDir('cli-pglite');
    target = ['--pglite-dir', join(pgliteDir.path, 'db')];
    otherTarget = ['--pglite-dir', join(pgliteDir.path, 'other')];
    hasVector = true;
  }
});

let headDb: TestDatabase | undefined;
let atHead: Promise<string[]> | undefined;
/** A database at the seed's head, made once for the tests that only read it, so they run in any order. */
function headTarget(): Promise<string[]> {
  atHead ??= (async () => {
    let t: string[];
    if (testDatabaseUrl) {
      headDb = await createTestDatabase();
      t = ['--database-url', headDb.url!];
    } else {
      t = ['--pglite-dir', join(pgliteDir!.path, 'head')];
    }
    const up = await runCli(['upgrade', 'head', ...t]);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    return t;
  })();
  return atHead;
}

afterAll(async () => {
  await headDb?.dispose();
  await db?.dispose();
  await otherDb?.dispose();
  pgliteDir?.dispose();
});

describe('the seed migrations through the CLI', () => {
  it('previews with --sql without creating anything, then upgrades, downgrades to 202508230001 and upgrades again', async () => {
    // Prepare / Act: a preview first
    const preview = await runCli(['upgrade', 'head', '--sql', ...target]);

    // Assess: every statement, the standalone ones marked, and nothing created (not even the ledger).
    // An embedded directory that does not exist yet is refused by the read-only verbs, which create nothing.
    if (db) {
      expect(preview.code, preview.stderr).toBe(0);
      expect(preview.stdout).toContain('CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_knowledge_embeddings_embedding_ivfflat');
      expect(preview.stdout).toContain('-- outside a transaction (autocommit):');
      expect(preview.stdout).toContain('-- only if extension vector is available; skipped otherwise:');
      const before = await runCli(['current', '--json', ...target]);
      expect(JSON.parse(before.stdout)).toMatchObject({ current: [], heads: ['803b93aca2d2'] });
    } else {
      expect(preview.code).toBe(2);
      expect(preview.stderr).toMatch(/--pglite-dir .* does not exist: this command reads only and creates no database/);
      expect((await runCli(['current', '--json', ...target])).code).toBe(2);
      expect(existsSync(target[1]!)).toBe(false);
    }
    expect(await indexNames()).toEqual([]);

    // Act: upgrade head
    const up = await runCli(['upgrade', 'head', '--json', ...target]);

    // Assess
    expect(up.code, up.stderr).toBe(0);
    const result = JSON.parse(up.stdout);
    expect(result.status).toBe('done');
    expect(result.applied).toEqual(['202508010000', '202508190001', '202508230001', '803b93aca2d2']);
    const vectorSkips = result.skipped.map((s: { revision: string; step: number }) => `${s.revision}:${s.step}`);
    // pgvector decision: conditional steps run where the extension exists and are reported as skipped elsewhere
    expect(vectorSkips).toEqual(hasVector ? [] : ['202508010000:0', '202508010000:9', '803b93aca2d2:21']);
    const afterUp = await indexNames();
    expect(afterUp.length).toBe(hasVector ? 49 : 48);
    expect(afterUp.includes('idx_knowledge_embeddings_embedding_ivfflat')).toBe(hasVector);
    expect(result.verification.ok).toBe(true);

    // Act: downgrade to the team's rollback target
    const down = await runCli(['downgrade', '202508230001', ...target]);

    // Assess: only 803b93aca2d2's indexes are gone
    expect(down.code, down.stderr).toBe(0);
    expect(await indexNames()).toHaveLength(8);
    const mid = JSON.parse((await runCli(['current', '--json', ...target])).stdout);
    expect(mid).toMatchObject({ current: ['202508230001'], pending: ['803b93aca2d2'] });

    // Act: upgrade again, then once more (nothing to do)
    const again = await runCli(['upgrade', 'head', ...target]);
    const noop = await runCli(['upgrade', 'head', '--json', ...target]);

    // Assess
    expect(again.code, again.stderr).toBe(0);
    expect(await indexNames()).toEqual(afterUp);
    expect(JSON.parse(noop.stdout)).toMatchObject({ status: 'done', total: 0, applied: [] });
    expect(JSON.parse((await runCli(['current', '--json', ...target])).stdout).current).toEqual(['803b93aca2d2']);
  });

  it('refuses to downgrade below the irreversible baseline, naming the file, and changes nothing', async () => {
    // Prepare
    const target = await headTarget();

    // Act
    const run = await runCli(['downgrade', 'base', ...target]);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('migrations/202508010000_baseline.ts');
    expect(run.stderr).toContain('irreversible');
    expect(JSON.parse((await runCli(['current', '--json', ...target])).stdout).current).toEqual(['803b93aca2d2']);
  });

  it('passes check against the database, and history/show/heads describe the seed', async () => {
    // Prepare
    const target = await headTarget();

    // Act
    const check = await runCli(['check', ...target]);
    const history = await runCli(['history']);
    const show = await runCli(['show', '803b93aca2d2', '--json']);
    const heads = await runCli(['heads', '--json']);

    // Assess
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('ledger checksums match');
    expect(history.stdout.split('\n')[0]).toBe(
      '202508230001 -> 803b93aca2d2 (head), add critical performance indexes (DatabaseOptimizer analysis): 41 indexes incl. pgvector IVFFlat',
    );
    const shown = JSON.parse(show.stdout);
    expect(shown.rollbackPlan).toContain('offpeak downgrade 202508230001');
    expect(shown.up.every((s: { sql: string }) => /^CREATE (UNIQUE )?INDEX CONCURRENTLY IF NOT EXISTS idx_/.test(s.sql))).toBe(true);
    expect(shown.down.every((s: { sql: string }) => /^DROP INDEX CONCURRENTLY IF EXISTS public\.idx_/.test(s.sql))).toBe(true);
    expect(JSON.parse(heads.stdout).heads.map((h: { revision: string }) => h.revision)).toEqual(['803b93aca2d2']);
  });
});

describe('bad input is refused with an error naming the file, and nothing is applied', () => {
  it('a tampered applied migration, a broken chain, two heads, and downgrade to an unknown revision', async () => {
    // Each variant gets its own directory: modules are cached per path within one process.
    const dirs: Array<ReturnType<typeof scratchDir>> = [];
    const variant = (name: string, ms: Array<Parameters<typeof writeMigration>[1]>) => {
      const dir = scratchDir(name);
      dirs.push(dir);
      const files = ms.map((m) => writeMigration(dir.path, m));
      return { args: ['--migrations', dir.path, ...otherTarget], files };
    };
    const a = { revision: '209901010001', downRevision: null, table: 'bad_a' };
    const b = { revision: '209901010002', downRevision: '209901010001', table: 'bad_b' };
    const c = { revision: '209901010003', downRevision: '209901010002', table: 'bad_c' };
    try {
      // Prepare: two applied migrations
      const applied = await runCli(['upgrade', 'head', ...variant('applied', [a, b]).args]);
      expect(applied.code, applied.stderr).toBe(0);

      // Act + Assess: an applied file was changed
      const tamperedFiles = variant('tampered', [
        a,
        { ...b, body: `up: [sqlStep('CREATE TABLE public.bad_b (id bigint PRIMARY KEY, tampered text)', { tables: ['bad_b'] })],\n  down: [sqlStep('DROP TABLE IF EXISTS public.bad_b')],` },
        c,
      ]);
      const tampered = await runCli(['upgrade', 'head', ...tamperedFiles.args]);
      expect(tampered.code).toBe(2);
      expect(tampered.stderr).toContain(tamperedFiles.files[1]!.slice(tamperedFiles.files[1]!.indexOf('.offpeak')));
      expect(tampered.stderr).toContain('changed after it was applied');

      // a broken chain: a down revision no file declares
      const broken = variant('broken', [a, b, c, { revision: '209901010004', downRevision: '209901019999', table: 'bad_d' }]);
      const brokenRun = await runCli(['upgrade', 'head', ...broken.args]);
      expect(brokenRun.code).toBe(2);
      expect(brokenRun.stderr).toContain(broken.files[3]!.slice(broken.files[3]!.indexOf('.offpeak')));
      expect(brokenRun.stderr).toContain('209901019999 does not exist');

      // two heads: 0003 and a sibling 0004 on 0002
      const twoHeads = variant('two-heads', [a, b, c, { revision: '209901010004', downRevision: '209901010002', table: 'bad_d' }]);
      const twoHeadsRun = await runCli(['upgrade', 'head', ...twoHeads.args]);
      expect(twoHeadsRun.code).toBe(2);
      expect(twoHeadsRun.stderr).toContain('209901010003_bad_c.ts');
      expect(twoHeadsRun.stderr).toContain('209901010004_bad_d.ts');
      expect(twoHeadsRun.stderr).toContain('merge migration');

      // downgrade to an unknown revision
      const unknown = await runCli(['downgrade', '209912312359', ...twoHeads.args]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('unknown revision 209912312359');

      // Assess: nothing beyond the first two was applied through all of that
      const status = JSON.parse((await runCli(['current', '--json', ...twoHeads.args])).stdout);
      expect(status.current).toEqual(['209901010002']);
      expect([...status.pending].sort()).toEqual(['209901010003', '209901010004']);
    } finally {
      for (const d of dirs) d.dispose();
    }
  });
});

describe('new and check keep migrations/_index.ts in sync', () => {
  it('new writes the file on top of the head and regenerates the registry; check fails when the registry is stale', async () => {
    // Prepare: a copy of nothing but one migration
    const dir = scratchDir('new');
    try {
      writeMigration(dir.path, { revision: '209901010001', downRevision: null, table: 'n_a' });
      const m = ['--migrations', dir.path];
      const stale = await runCli(['check', ...m]);

      // Act
      const created = await runCli(['new', 'add_orders_index', '--risk', 'medium', '--rev-id', '209901020000', ...m, '--json']);
      const unfinished = await runCli(['check', ...m]);

      // Assess
      expect(stale.code).toBe(2);
      expect(stale.stdout).toContain('_index.ts is out of sync');
      expect(created.code, created.stderr).toBe(0);
      expect(JSON.parse(created.stdout)).toMatchObject({ revision: '209901020000', downRevision: '209901010001', risk: 'medium' });
      const { readFileSync } = await import('node:fs');
      const text = readFileSync(join(dir.path, '209901020000_add_orders_index.ts'), 'utf8');
      expect(text).toContain("downRevision: '209901010001'");
      expect(text).toContain("rollbackPlan: 'offpeak downgrade 209901010001'");
      expect(readFileSync(join(dir.path, '_index.ts'), 'utf8')).toContain("import m1 from './209901020000_add_orders_index.ts';");
      // the template has no steps yet: check refuses it, naming the file
      expect(unfinished.code).toBe(2);
      expect(unfinished.stdout).toContain('209901020000_add_orders_index.ts');
      expect(unfinished.stdout).toContain('up must have at least one step');
    } finally {
      dir.dispose();
    }
  });

  it('the repository registry lists every seed migration', async () => {
    // Act
    const check = await runCli(['check', '--migrations', seedMigrationsDir]);

    // Assess
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toContain('_index.ts in sync');
  });

  it('bad usage names the problem and the fix, with exit code 2', async () => {
    // Act
    const missing = await runCli(['show']);
    const unknownOption = await runCli(['upgrade', 'head', '--bogus']);
    const badRisk = await runCli(['new', 'x', '--risk', 'extreme']);

    // Assess
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing argument <head|heads|current|REV>');
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain('unknown option --bogus');
    expect(unknownOption.stderr).toContain('usage: offpeak upgrade');
    expect(badRisk.stderr).toContain('use low, medium or high');
  });
});

import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from '../support/database.ts';
import { runCli, scratchDir, writeMigration } from '../support/cli.ts';

/** `offpeak runs`, `runs abandon` and `--restart`, end to end (PostgreSQL with TEST_DATABASE_URL, else PGlite on disk). */
let db: TestDatabase | undefined;
let dir: ReturnType<typeof scratchDir>;
let target: string[];

beforeAll(async () => {
  dir = scratchDir('cli-runs');
  if (testDatabaseUrl) {
    db = await createTestDatabase();
    target = ['--database-url', db.url!];
  } else target = ['--pglite-dir', join(dir.path, 'db')];
});

afterAll(async () => {
  await db?.dispose();
  dir?.dispose();
});

describe('offpeak runs', () => {
  it('lists a failed run, abandons it, and --restart starts afresh', async () => {
    // Prepare: the second migration fails (division by zero)
    const migrations = join(dir.path, 'migrations');
    mkdirSync(migrations);
    writeMigration(migrations, { revision: '202601010001', downRevision: null, table: 'runs_a' });
    writeMigration(migrations, { revision: '202601010002', downRevision: '202601010001', body: `up: [sqlStep('SELECT 1/0')],\n  down: [],` });
    const args = ['--migrations', migrations, ...target];
    const failed = await runCli(['upgrade', 'head', ...args, '--json']);
    if (failed.code !== 1) throw new Error(`upgrade: ${failed.code} ${failed.stderr}`);
    const runId = (JSON.parse(failed.stdout) as { runId: string }).runId;

    // Act
    const listed = await runCli(['runs', ...args, '--json']);
    const listedText = await runCli(['runs', ...args]);
    const abandoned = await runCli(['runs', 'abandon', runId, ...args]);
    const after = await runCli(['runs', ...args, '--json']);
    const again = await runCli(['upgrade', 'head', ...args, '--json']);
    const restarted = await runCli(['upgrade', 'head', '--restart', ...args, '--json']);
    const unknown = await runCli(['runs', 'abandon', 'no-such-run', ...args]);
    const history = await runCli(['history', '--verbose', ...args]);
    const historyJson = await runCli(['history', '--verbose', ...args, '--json']);

    // Assess
    expect(failed.code).toBe(1);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({
      runs: [expect.objectContaining({ runId, direction: 'up', target: 'head', status: 'failed', position: 1, total: 2, next: expect.objectContaining({ revision: '202601010002' }) })],
    });
    expect(listedText.stdout).toMatch(new RegExp(`${runId}\\s+upgrade head\\s+failed\\s+1/2`));
    expect(abandoned).toMatchObject({ code: 0, stdout: expect.stringContaining(`abandoned run ${runId}`) });
    expect(JSON.parse(after.stdout)).toEqual({ runs: [] });
    const againRun = (JSON.parse(again.stdout) as { runId: string }).runId;
    expect(againRun).not.toBe(runId);
    expect(JSON.parse(restarted.stdout)).toMatchObject({ status: 'failed', position: 0 });
    expect((JSON.parse(restarted.stdout) as { runId: string }).runId).not.toBe(againRun);
    expect(restarted.stderr).toContain(`abandoned run(s) ${againRun}: abandoned by a --restart of upgrade head`);
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown run no-such-run') });
    // history --verbose shows when each applied migration was applied, by whom, and how long it took (the ledger's duration)
    expect(history.stdout).toMatch(/Rev: 202601010001[^\n]*\nApplied: \d{4}-\d\d-\d\dT[^ ]+ by cli:[^,]+, took \d+(\.\d)? (ms|s)/);
    const json = JSON.parse(historyJson.stdout) as { migrations: Array<{ revision: string; applied: { durationMs: number } | null }> };
    expect(json.migrations.find((m) => m.revision === '202601010001')?.applied?.durationMs).toBeGreaterThanOrEqual(0);
    expect(json.migrations.find((m) => m.revision === '202601010002')?.applied).toBeNull();
  }, 240_000); // seven CLI runs, each opening the embedded database
});

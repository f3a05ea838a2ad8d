import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { lacks } from '../support/prerequisites.ts';
import { until } from '../support/wait.ts';
import { openCliTarget, runCli, scratchDir, writeMigration, type CliTarget } from '../support/cli.ts';

/** `upgrade --max-load / --critical-load` (load-guard.ts): parsing, the result, the exit code of a critical stop. */
const scratch = scratchDir('load-guard');
let db: CliTarget;
let target: string[];

beforeAll(async () => {
  db = await openCliTarget(scratch.path);
  writeMigration(scratch.path, { revision: '202601010001', downRevision: null, table: 'lg_one' });
  writeMigration(scratch.path, { revision: '202601010002', downRevision: '202601010001', table: 'lg_two' });
  target = [...db.args, '--migrations', scratch.path];
});

afterAll(async () => {
  await db?.dispose();
  scratch.dispose();
});

describe('upgrade --max-load / --critical-load', () => {
  it.each([
    [['--max-load', 'active=lots'], /--max-load "active=lots": active must be a whole number of sessions \(0 or more\), got "lots"; expected active=N\[,waiting=M\]/],
    [['--critical-load', 'waiting=3,kill'], /--critical-load "waiting=3,kill": "kill" is not active=N, waiting=M or cancel-builds; expected active=N\[,waiting=M\]\[,cancel-builds\]/],
    [['--max-load', 'active=3,cancel-builds'], /cancel-builds belongs to --critical-load/],
  ])('refuses %j with exit 2, naming the value and the expected form', async (flags, message) => {
    // Act
    const run = await runCli(['upgrade', 'head', ...target, ...flags]);

    // Assess
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('a quiet database runs to the end and reports no throttled time', async () => {
    // Act
    const run = await runCli(['upgrade', '202601010001', ...target, '--max-load', 'active=20,waiting=5', '--critical-load', 'active=100', '--json']);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { status: string; throttledMs: number };
    expect(result).toMatchObject({ status: 'done', throttledMs: 0 });
  });

  it.skipIf(lacks('postgresql'))('over --critical-load the run stops with exit 7 and says why; the same command resumes it (PostgreSQL)', async () => {
    // Prepare: two sessions busy in pg_sleep
    const clients = [new pg.Client({ connectionString: db.url }), new pg.Client({ connectionString: db.url })];
    await Promise.all(clients.map((c) => c.connect()));
    const busy = clients.map((c) => c.query('SELECT pg_sleep(600)').catch(() => undefined));
    const watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
    try {
      await until('two busy sessions', async () => (await watcher.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query = 'SELECT pg_sleep(600)'`)).rowCount === 2);

      // Act
      const stopped = await runCli(['upgrade', 'head', ...target, '--critical-load', 'active=1']);
      await watcher.query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = 'SELECT pg_sleep(600)'`);
      await Promise.all(busy);
      const resumed = await runCli(['upgrade', 'head', ...target, '--critical-load', 'active=1']);

      // Assess
      expect(stopped.code, stopped.stderr).toBe(7);
      expect(stopped.stdout).toMatch(/stopped: critical load \(active=2 > 1\) before 202601010002 \(synthetic 202601010002\); run the same command when the database is quieter to resume/);
      expect(stopped.stdout + stopped.stderr).toMatch(/critical load: active=2 > 1; stopped before the next unit/);
      expect(resumed.code, resumed.stderr).toBe(0);
    } finally {
      await watcher.end();
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});

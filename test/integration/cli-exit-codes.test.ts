import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquirePgliteLock } from '../../lambdas/core/db/pglite-lock.ts';
import { postgresqlPass, testDatabaseUrl } from '../support/database.ts';
import { startTestDataApi } from '../support/data-api.ts';
import { openCliTarget, repoRoot, runCli, scratchDir, writeMigration, type CliTarget, type CliRun } from '../support/cli.ts';

/**
 * The documented exit codes (docs/cli.md), verb by verb, and the `--json` error document every failing exit
 * writes on stdout: {"error":{"code","message","hint"},"exitCode"}.
 */
interface JsonFailure {
  error: { code: string; message: string; hint: string | null };
  exitCode: number;
}

function failure(run: CliRun): JsonFailure {
  const doc = JSON.parse(run.stdout) as JsonFailure;
  expect(Object.keys(doc).sort()).toEqual(['error', 'exitCode']);
  expect(Object.keys(doc.error).sort()).toEqual(['code', 'hint', 'message']);
  expect(doc.exitCode).toBe(run.code);
  return doc;
}

const scratch = scratchDir('exit-codes');
let db: CliTarget;
let target: string[];

beforeAll(async () => {
  db = await openCliTarget(scratch.path);
  target = db.args;
});

afterAll(async () => {
  await db?.dispose();
  scratch.dispose();
});

describe('exit 2: bad usage, with a JSON document under --json', () => {
  it.each([
    [['upgrad', 'head'], /unknown command "upgrad" \(did you mean "upgrade"\?\)/],
    [['data-api', 'serv'], /unknown command "data-api serv" \(did you mean "data-api serve"\?\)/],
    [['upgrade', 'head', '--jsno'], /unknown option --jsno \(did you mean --json\?\)/],
    [['upgrade', 'head', '--window'], /option --window needs a value/],
    [['upgrade'], /missing argument <head\|heads\|REV\|\+N\|FROM:TO>/],
    [['upgrade', 'head', '--database-url', ''], /--database-url is empty/],
    [['upgrade', 'head', '--database-url', 'localhost:5432/app'], /--database-url .* must look like postgres:\/\//],
    [['current', '--data-api-endpoint', 'not-a-url', '--resource-arn', 'arn:aws:rds:eu-west-1:123456789012:cluster:c', '--secret-arn', 's', '--database', 'd'], /--data-api-endpoint "not-a-url" is not a URL/],
    [['current', '--resource-arn', 'arn:aws:rds:eu-west-1:123456789012:cluster:c'], /the Data API target needs --secret-arn, --database/],
    [['start', '--database-url', 'postgres://u@h/db'], /start runs on the embedded database and takes no --database-url; for a server use `offpeak upgrade head`/],
    [['start', '--resource-arn', 'arn:aws:rds:eu-west-1:1:cluster:c'], /start runs on the embedded database and takes no --resource-arn/],
  ])('%j', async (argv, message) => {
    // Act
    const human = await runCli(argv);
    const json = await runCli([...argv, '--json']);

    // Assess: a short message on stderr, nothing else; the same as JSON
    expect(human.code, human.stderr).toBe(2);
    expect(human.stderr).toMatch(message);
    expect(human.stderr.split('\n').length).toBeLessThan(5);
    expect(human.stdout).toBe('');
    expect(json.code).toBe(2);
    const doc = failure(json);
    expect(doc.error.code).toBe('bad_usage');
    expect(doc.error.message).toMatch(message);
  });

  it('an empty DATABASE_URL is an error on every verb that opens a database, never the embedded fallback', async () => {
    for (const argv of [['current'], ['upgrade', 'head'], ['report'], ['stamp', 'head'], ['analyze']]) {
      const run = await runCli([...argv, '--json'], { DATABASE_URL: '' });
      expect(run.code, `${argv.join(' ')}: ${run.stderr}`).toBe(2);
      expect(failure(run).error.message).toContain('DATABASE_URL is set but empty');
    }
  });

  it('a read-only verb refuses a --pglite-dir that does not exist, and creates nothing', async () => {
    const typo = join(scratch.path, 'typo');
    for (const argv of [['current'], ['upgrade', 'head', '--sql'], ['report'], ['check']]) {
      const run = await runCli([...argv, '--pglite-dir', typo, '--json']);
      expect(run.code, `${argv.join(' ')}: ${run.stdout}`).toBe(2);
      expect(JSON.stringify(JSON.parse(run.stdout))).toContain('does not exist');
    }
    expect(existsSync(typo)).toBe(false);
  });

  it('current on a fresh clone (no embedded database yet) says nothing is applied and creates nothing', async () => {
    const clone = join(scratch.path, 'clone');
    mkdirSync(clone);
    const run = await runCli(['current', '--json', '--migrations', join(process.cwd(), 'migrations')], {}, { cwd: clone });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ current: [], heads: ['803b93aca2d2'] });
    expect(run.stderr).toContain('no embedded database yet');
    expect(existsSync(join(clone, '.offpeak'))).toBe(false);
  });

  it('-h, --help and --version answer on stdout with 0', async () => {
    const help = await runCli(['-h']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: offpeak <command>');
    const verbHelp = await runCli(['upgrade', '-h']);
    expect(verbHelp.code).toBe(0);
    expect(verbHelp.stdout).toMatch(/^usage: offpeak upgrade/);
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^offpeak \d+\.\d+\.\d+\n$/);
  });
});

describe('exit 3: busy', () => {
  // PGlite on disk whatever the test database: runs in the PGlite pass.
  it.skipIf(postgresqlPass)('the embedded database held by another process', async () => {
    // Prepare: a database, then its lock held
    const dir = join(scratch.path, 'busy');
    expect((await runCli(['upgrade', '+1', '--pglite-dir', dir])).code).toBe(0);
    const lock = await acquirePgliteLock(dir, { command: 'test holder' });
    try {
      // Act
      const run = await runCli(['current', '--json', '--pglite-dir', dir]);
      // Assess
      expect(run.code, run.stderr).toBe(3);
      expect(failure(run).error).toMatchObject({ code: 'database_busy' });
      expect(run.stderr).toContain('--wait-for-lock');
    } finally {
      lock.release();
    }
  });
});

describe('exit 4: outside the window', () => {
  it('upgrade --window refuses to start when the window is closed, with JSON', async () => {
    const now = new Date();
    const start = new Date(now.getTime() + 3 * 3600_000);
    const window = `${String(start.getUTCHours()).padStart(2, '0')}:00,60,UTC`;
    const run = await runCli(['upgrade', 'head', '--window', window, '--json', ...target]);
    expect(run.code, run.stderr).toBe(4);
    expect(failure(run).error.code).toBe('outside_window');
  });
});

describe('exit 5: cannot reach or log in to the database, with the cause', () => {
  it('connection refused (PostgreSQL URL)', async () => {
    const run = await runCli(['current', '--json', '--database-url', 'postgres://postgres@127.0.0.1:1/postgres']);
    expect(run.code, run.stderr).toBe(5);
    const doc = failure(run);
    expect(doc.error.code).toBe('connection_refused');
    expect(doc.error.message).toMatch(/^cannot reach or log in to the database \(connection refused\): .*ECONNREFUSED/);
    expect(doc.error.hint).toMatch(/running and listening/);
  });

  it('connection refused (a Data API endpoint nobody listens on)', async () => {
    const run = await runCli(['current', '--json', '--data-api-endpoint', 'http://127.0.0.1:1', '--resource-arn', 'arn:aws:rds:eu-west-1:123456789012:cluster:c', '--secret-arn', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:s', '--database', 'd']);
    expect(run.code, run.stderr).toBe(5);
    expect(failure(run).error.code).toBe('connection_refused');
  });

  it('unknown host', async () => {
    const run = await runCli(['upgrade', 'head', '--json', '--database-url', 'postgres://postgres@no-such-host.invalid:5432/postgres']);
    expect(run.code, run.stderr).toBe(5);
    expect(failure(run).error.code).toBe('host_not_found');
  });

  describe.skipIf(!testDatabaseUrl)('on a real server', () => {
    const withUrl = (change: (u: URL) => void) => {
      const u = new URL(db.url!);
      change(u);
      return u.toString();
    };

    it('authentication (an unknown role)', async () => {
      const run = await runCli(['current', '--json', '--database-url', withUrl((u) => (u.username = 'no_such_role_offpeak'))]);
      expect(run.code, run.stderr).toBe(5);
      const doc = failure(run);
      expect(doc.error.code).toBe('authentication_failed');
      expect(doc.error.message).toContain('no_such_role_offpeak');
    });

    it('an unknown database', async () => {
      const run = await runCli(['upgrade', 'head', '--json', '--database-url', withUrl((u) => (u.pathname = '/no_such_database_offpeak'))]);
      expect(run.code, run.stderr).toBe(5);
      expect(failure(run).error).toMatchObject({ code: 'unknown_database' });
    });

    it('an unknown database behind the local Data API server', async () => {
      const api = await startTestDataApi();
      try {
        const run = await runCli(['current', '--json', '--data-api-endpoint', api.endpoint, '--resource-arn', api.resourceArn, '--secret-arn', api.secretArn, '--database', 'no_such_database_offpeak']);
        expect(run.code, run.stderr).toBe(5);
        expect(failure(run).error.code).toBe('unknown_database');
      } finally {
        await api.dispose();
      }
    });
  });
});

describe('exit 130: interrupted', () => {
  it('SIGINT mid-run with --json: exit 130 and one JSON document on stdout saying interrupted', async () => {
    // Prepare: a migration whose second step sleeps in its transaction
    const dir = join(scratch.path, 'interrupt');
    mkdirSync(dir, { recursive: true });
    writeMigration(dir, {
      revision: '202602020001',
      downRevision: null,
      body: `up: [
    sqlStep('CREATE TABLE public.exit_interrupt (id bigint PRIMARY KEY)', { tables: ['exit_interrupt'] }),
    sqlStep('SELECT pg_sleep(3)', { lock: 'none', description: 'sleep in the transaction' }),
  ],
  down: [sqlStep('DROP TABLE public.exit_interrupt')],`,
    });
    const args = ['upgrade', 'head', '--json', '--migrations', dir, ...target];

    // Act: SIGINT half a second after the sleep starts (progress is on stderr with --json)
    const child = spawn(process.execPath, [join(repoRoot, 'bin/offpeak.js'), ...args], { cwd: repoRoot, env: { ...process.env, DATABASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += String(c)));
    child.stderr.on('data', (c: Buffer) => {
      stderr += String(c);
      if (/sleep in the transaction/.test(stderr) && !child.killed) setTimeout(() => child.kill('SIGINT'), 500);
    });
    const code = await new Promise<number | null>((done) => child.on('close', done));

    // Assess
    expect(code, `${stdout}\n${stderr}`).toBe(130);
    const doc = JSON.parse(stdout) as { status: string; runId: string };
    expect(doc.status).toBe('interrupted');
    expect(stderr).toMatch(/interrupted: .*; run the same command to resume/);
  }, 120_000);
});

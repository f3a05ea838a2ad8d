import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase } from '../support/database.ts';
import { startTestDataApi } from '../support/data-api.ts';
import { repoRoot } from '../support/cli.ts';
import { lacks } from '../support/prerequisites.ts';

function runProcess(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/offpeak.js'), ...args], { cwd: repoRoot, env: { ...process.env, DATABASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Target {
  /** The CLI's target options. */
  args: string[];
  /** A direct PostgreSQL URL of the same database, to assess. */
  url: string;
  dispose(): Promise<void>;
}

const targets: Array<[string, () => Promise<Target>]> = [
  [
    'directly on PostgreSQL',
    async () => {
      const db = await createTestDatabase();
      return { args: ['--database-url', db.url!], url: db.url!, dispose: () => db.dispose() };
    },
  ],
  [
    'through the local Data API server (1 s statement timeout)',
    async () => {
      const api = await startTestDataApi({ statementTimeoutMs: 1000 });
      return {
        args: ['--data-api-endpoint', api.endpoint, '--resource-arn', api.resourceArn, '--secret-arn', api.secretArn, '--database', api.database],
        url: api.db.url!,
        dispose: () => api.dispose(),
      };
    },
  ],
];

// Separate processes need a server: PGlite is one process by construction.
describe.skipIf(lacks('postgresql')).each(targets)('8 concurrent `upgrade head` processes %s', (_name, open) => {
  let target: Target;
  beforeAll(async () => {
    target = await open();
  });
  afterAll(async () => {
    await target?.dispose();
  });

  it('apply each migration exactly once; the others exit with the lease code (3) or find nothing to do', async () => {
    // Act
    const runs = await Promise.all(Array.from({ length: 8 }, () => runProcess(['upgrade', 'head', ...target.args])));

    // Assess
    for (const r of runs) expect([0, 3], r.stderr).toContain(r.code);
    expect(runs.filter((r) => r.code === 0).length).toBeGreaterThanOrEqual(1);
    for (const r of runs.filter((x) => x.code === 3)) expect(r.stderr).toContain('migration lease is held by');
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      const applied = await client.query(`SELECT revision FROM offpeak.applied_migrations ORDER BY revision`);
      expect(applied.rows.map((r) => r.revision)).toEqual(['202508010000', '202508190001', '202508230001', '803b93aca2d2']);
      const twice = await client.query(
        `SELECT revision, step, count(*) AS n FROM offpeak.migration_events WHERE status = 'done' AND direction = 'up' GROUP BY revision, step HAVING count(*) > 1`,
      );
      expect(twice.rows).toEqual([]);
      const invalid = await client.query(`SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid`);
      expect(invalid.rows).toEqual([]);
    } finally {
      await client.end();
    }
  });
});

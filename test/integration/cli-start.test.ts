import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, scratchDir, seedMigrationsDir } from '../support/cli.ts';
import { postgresqlPass } from '../support/database.ts';

/**
 * `npm start` on the seed migrations: a short summary (applied, verified, analyzed, findings by kind) that still
 * lists every verified idx_ index, the full report in the file it names, and the full tables with --verbose.
 */
const scratch = scratchDir('start');
afterAll(() => scratch.dispose());

// `start` always runs on PGlite on disk: the PGlite pass runs this file.
describe.skipIf(postgresqlPass)('npm start output', () => {
  it('is a summary of about 25 lines naming the report file; --verbose prints the full tables too', async () => {
    // Act
    const args = ['start', '--migrations', seedMigrationsDir, '--pglite-dir', join(scratch.path, 'db')];
    const first = await runCli(args, {}, { cwd: scratch.path });
    const again = await runCli([...args, '--verbose'], {}, { cwd: scratch.path });

    // Assess: the summary
    expect(first.code, first.stderr).toBe(0);
    const lines = first.stdout.trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(30);
    expect(first.stdout).toMatch(/^upgrade: applied 4 migration\(s\): 202508010000, 202508190001, 202508230001, 803b93aca2d2$/m);
    expect(first.stdout).toMatch(/^verified: 49\/49 index\(es\) built by this run are valid; analyzed \d+ table\(s\) it touched$/m);
    expect(first.stdout).toMatch(/^verified indexes: 49 of 49 idx_ indexes valid$/m);
    expect(first.stdout).toMatch(/^ {2}users: idx_users_active_last_seen_at, idx_users_created_at, idx_users_lower_email, idx_users_referred_by$/m);
    expect(first.stdout).toMatch(/^findings: \d+/m);
    expect(first.stdout).toContain('full report (usage and unused-index tables): .offpeak/report.txt');
    expect(first.stdout).not.toContain('INDEX USAGE');
    expect(first.stdout).not.toMatch(/^ {2}step \d+:/m);
    // the report file holds the tables
    const report = join(scratch.path, '.offpeak', 'report.txt');
    expect(existsSync(report)).toBe(true);
    expect(readFileSync(report, 'utf8')).toContain('INDEX USAGE: idx_ indexes by idx_tup_read');
    // --verbose: the same summary and the report's tables here
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^upgrade: nothing to do, already at head$/m);
    expect(again.stdout).toContain('INDEX USAGE: idx_ indexes by idx_tup_read');
  }, 180_000);
});

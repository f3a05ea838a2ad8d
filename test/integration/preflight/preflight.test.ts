import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { sql, SqlQuery } from '../../../lambdas/core/db/sql.ts';
import { createIndex, defineMigration } from '../../../lambdas/core/migrations/model.ts';
import { createMigrator } from '../../../lambdas/core/migrations/runner.ts';
import { recordBuildSample } from '../../../lambdas/core/preflight/calibration.ts';
import { fitWindow, preflight, type PreflightResult } from '../../../lambdas/core/preflight/preflight.ts';
import { runCli, scratchDir, writeMigration } from '../../support/cli.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { load, uniqueName } from '../migrations/helpers.ts';

/**
 * Pre-flight over a plan: every pending build estimated the same over the Data API as directly, the window fit
 * with calibrated rates, the refusals (longer than the window, more than the free disk), a table never ANALYZEd,
 * and the CLI's exit code 6. PGlite or PostgreSQL (TEST_DATABASE_URL), behind the local Data API server.
 */
let api: TestDataApi;
let ns: string;
beforeAll(async () => {
  api = await startTestDataApi();
  ns = uniqueName('pf');
  const q = (text: string) => api.db.client.query(new SqlQuery([text]));
  await q(`CREATE SCHEMA ${ns}`);
  await q(`CREATE TABLE ${ns}.orders AS SELECT g AS id, g % 700 AS user_id, 'user' || g || '@example.com' AS email FROM generate_series(1, 30000) g`);
  await q(`ANALYZE ${ns}.orders`);
  // Never ANALYZEd, and kept so on PostgreSQL (autovacuum would analyze it during the test).
  await q(`CREATE TABLE ${ns}.raw (id int, code text) WITH (autovacuum_enabled = false)`);
  await q(`INSERT INTO ${ns}.raw SELECT g, 'code-' || g FROM generate_series(1, 30000) g`);
}, 120_000);
afterAll(async () => {
  await api?.dispose();
});

const migrations = () =>
  load(
    defineMigration({
      revision: 'p1',
      downRevision: null,
      description: 'order indexes',
      risk: 'low',
      up: [createIndex({ name: 'idx_orders_user', schema: ns, table: 'orders', columns: ['user_id'] }), createIndex({ name: 'idx_orders_email', schema: ns, table: 'orders', columns: ['email'] })],
    }),
    defineMigration({
      revision: 'p2',
      downRevision: 'p1',
      description: 'raw codes',
      risk: 'low',
      up: [createIndex({ name: 'idx_raw_code', schema: ns, table: 'raw', columns: ['code'] })],
    }),
  );

async function run(client: SqlClient, schema: string, options: { windowMinutes?: number; freeBytes?: number } = {}): Promise<PreflightResult> {
  const migrator = createMigrator({ client, migrations: migrations(), schema });
  return preflight({ client, graph: migrator.graph, plan: await migrator.plan('up', 'head'), schema, ...options });
}

describe('preflight', () => {
  it('estimates every pending build, the same over the Data API as directly, reading only', async () => {
    // Prepare
    const schema = uniqueName('offpeak_pf');

    // Act
    const direct = await run(api.db.client, schema);
    const overDataApi = await run(api.adapter(), schema);

    // Assess
    expect(overDataApi).toEqual(direct);
    const { report, refusals } = direct;
    expect(refusals).toEqual([]);
    expect(report.units.map((u) => [u.revision, u.step, u.kind, u.index, u.table, u.calibrated])).toEqual([
      ['p1', 0, 'btree', `${ns}.idx_orders_user`, `${ns}.orders`, false],
      ['p1', 1, 'btree', `${ns}.idx_orders_email`, `${ns}.orders`, false],
      ['p2', 0, 'btree', `${ns}.idx_raw_code`, `${ns}.raw`, false],
    ]);
    for (const u of report.units) expect(u.estimatedBytes).toBeGreaterThan(8192);
    expect(report.totalBytes).toBe(report.units.reduce((s, u) => s + u.estimatedBytes, 0));
    expect(report.window).toBeNull();
    expect(report.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${ns}\\.raw has never been ANALYZEd: rows counted on a 100 % block sample`)),
        expect.stringMatching(/^no build history on this target for btree: seconds use conservative default rates \(calibrated: false\)/),
        'free space: unknown (pass --free-bytes N to check the builds against it)',
      ]),
    );
    const { rows } = await api.db.client.query<{ found: boolean }>(sql`SELECT to_regnamespace(${schema}) IS NOT NULL AS found`);
    expect(rows[0]!.found).toBe(false);
  });

  it('estimates a table never ANALYZEd from its size and sampled widths, within ±25 % of the built index', async () => {
    // Act
    const unit = (await run(api.db.client, uniqueName('offpeak_pf'))).report.units.find((u) => u.index.endsWith('idx_raw_code'))!;
    // Built on a copy (same rows, same order): CREATE INDEX on raw itself would set raw's row count in
    // pg_class, and the other tests rely on raw staying never ANALYZEd.
    await api.db.client.query(new SqlQuery([`CREATE TABLE ${ns}.raw_copy AS TABLE ${ns}.raw`]));
    await api.db.client.query(new SqlQuery([`CREATE INDEX idx_raw_code_built ON ${ns}.raw_copy (code)`]));
    const { rows } = await api.db.client.query<{ bytes: number }>(sql`SELECT pg_relation_size(${`${ns}.idx_raw_code_built`}::regclass)::float8 AS bytes`);

    // Assess
    const error = (unit.estimatedBytes - rows[0]!.bytes) / rows[0]!.bytes;
    console.log(`never ANALYZEd on ${api.db.kind}: estimated ${unit.estimatedBytes}, built ${rows[0]!.bytes}, error ${(error * 100).toFixed(1)} %`);
    expect(Math.abs(error)).toBeLessThanOrEqual(0.25);
  });

  it("times builds at this target's calibrated rate and fits them into the window in plan order", async () => {
    // Prepare: one sample that makes the largest build take 25 s
    const schema = uniqueName('offpeak_pf');
    const largest = (await run(api.db.client, schema)).report.units.reduce((a, b) => (b.estimatedBytes > a.estimatedBytes ? b : a));
    await recordBuildSample(api.db.client, schema, { accessMethod: 'btree', bytes: largest.estimatedBytes, seconds: 25, source: 'rehearsal' });

    // Act
    const { report, refusals } = await run(api.db.client, schema, { windowMinutes: 1 });

    // Assess
    expect(refusals).toEqual([]);
    expect(report.units.every((u) => u.calibrated)).toBe(true);
    expect(report.units.find((u) => u.index === largest.index)!.estimatedSeconds).toBe(25);
    const rate = largest.estimatedBytes / 25;
    for (const u of report.units) expect(u.estimatedSeconds).toBeCloseTo(u.estimatedBytes / rate, 0);
    let total = 0;
    const fit = report.units.filter((u) => (total += u.estimatedSeconds) <= 60).length;
    expect(report.window).toEqual({ minutes: 1, fits: fit === 3, unitsThatFit: fit });
    expect(fitWindow([{ estimatedSeconds: 30 }, { estimatedSeconds: 30 }, { estimatedSeconds: 1 }], 1)).toEqual({ minutes: 1, fits: false, unitsThatFit: 2 });
  });

  it('refuses a build estimated longer than the whole window, with the numbers and the fix', async () => {
    // Prepare: the first build takes 150 s (2.5 min) at this target's rate
    const schema = uniqueName('offpeak_pf');
    const first = (await run(api.db.client, schema)).report.units[0]!;
    await recordBuildSample(api.db.client, schema, { accessMethod: 'btree', bytes: first.estimatedBytes, seconds: 150, source: 'run' });

    // Act
    const { report, refusals } = await run(api.db.client, schema, { windowMinutes: 1 });

    // Assess
    const refused = refusals.find((r) => r.index === first.index)!;
    expect(refused).toMatchObject({ revision: 'p1', step: 0, reason: 'longer_than_window' });
    expect(refused.message).toMatch(/is estimated at [\d.]+ (kB|MB) and 2.5 min, longer than the whole 1-minute window/);
    expect(refused.message).toMatch(/Widen the window to at least 4 minutes, or build it by hand/);
    expect(report.warnings).toContain(`refused: ${refused.message}`);
    expect(report.window).toEqual({ minutes: 1, fits: false, unitsThatFit: 0 });
  });

  it('takes entries PostgreSQL compresses in the index as an upper bound: a warning, never a refusal for time', async () => {
    // Prepare: 1,280-character keys (over TOAST_INDEX_TARGET, 512 bytes) that compress very well, at a rate that
    // makes the uncompressed count longer than a 1-minute window (found by a new user: a build of under 1 s refused)
    const q = (text: string) => api.db.client.query(new SqlQuery([text]));
    const table = uniqueName('wide');
    await q(`CREATE TABLE ${ns}.${table} AS SELECT g AS id, repeat(md5(g::text), 40) AS payload FROM generate_series(1, 3000) g`);
    await q(`ANALYZE ${ns}.${table}`);
    const index = `idx_${table}_payload`;
    const graph = load(defineMigration({ revision: 'w1', downRevision: null, description: 'wide keys', risk: 'low', up: [createIndex({ name: index, schema: ns, table, columns: ['payload'] })] }));
    const schema = uniqueName('offpeak_pf');
    const estimate = async (windowMinutes?: number) => {
      const migrator = createMigrator({ client: api.db.client, migrations: graph, schema });
      return preflight({ client: api.db.client, graph: migrator.graph, plan: await migrator.plan('up', 'head'), schema, ...(windowMinutes ? { windowMinutes } : {}) });
    };
    const unit = (await estimate()).report.units[0]!;
    await recordBuildSample(api.db.client, schema, { accessMethod: 'btree', bytes: unit.estimatedBytes, seconds: 150, source: 'run' });

    // Act
    const { report, refusals } = await estimate(1);
    await createMigrator({ client: api.db.client, migrations: graph, schema }).runToCompletion('up', 'head');
    const built = Number((await api.db.client.query<{ n: string }>(sql`SELECT pg_relation_size(${`${ns}.${index}`}::regclass)::text AS n`)).rows[0]!.n);

    // Assess: not refused; said to be an upper bound and to maybe not fit; the real index far smaller
    expect(refusals).toEqual([]);
    expect(report.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/its entries average over 512 bytes, which PostgreSQL compresses in the index: the size and time are upper bounds/),
        expect.stringMatching(new RegExp(`w1 step 1: index ${ns}\\.${index} may not fit the 1-minute window: its upper bound is .* rehearse it`)),
      ]),
    );
    expect(built * 4).toBeLessThan(unit.estimatedBytes);
  });

  it('says nothing of statistics for an ANALYZEd empty table (ANALYZE cannot help), and each warning once', async () => {
    // Prepare: two indexes on one empty, ANALYZEd table (a fresh schema: a new user saw 74 such lines, some twice)
    const q = (text: string) => api.db.client.query(new SqlQuery([text]));
    const table = uniqueName('empty');
    await q(`CREATE TABLE ${ns}.${table} (id int, note text)`);
    await q(`ANALYZE ${ns}.${table}`);
    const graph = load(
      defineMigration({
        revision: 'e1', downRevision: null, description: 'empty table', risk: 'low',
        up: [createIndex({ name: `idx_${table}_note`, schema: ns, table, columns: ['note'] }), createIndex({ name: `idx_${table}_lower`, schema: ns, table, columns: ['lower(note)'] })],
      }),
    );
    const schema = uniqueName('offpeak_pf');
    const migrator = createMigrator({ client: api.db.client, migrations: graph, schema });

    // Act
    const { report } = await preflight({ client: api.db.client, graph: migrator.graph, plan: await migrator.plan('up', 'head'), schema });

    // Assess
    expect(report.units).toHaveLength(2);
    expect(report.warnings.filter((w) => w.includes(table))).toEqual([]);
    expect(new Set(report.warnings).size).toBe(report.warnings.length);
  });

  it('refuses builds that need more disk than --free-bytes, and passes them with room', async () => {
    // Prepare
    const schema = uniqueName('offpeak_pf');
    const { report } = await run(api.db.client, schema);

    // Act
    const short = await run(api.db.client, schema, { freeBytes: report.totalBytes - 1 });
    const room = await run(api.db.client, schema, { freeBytes: report.totalBytes * 10 });

    // Assess
    expect(short.refusals.map((r) => r.reason)).toEqual(['not_enough_disk']);
    expect(short.refusals[0]!.message).toMatch(/^the builds need about .* more than the .* free/);
    expect(room.refusals).toEqual([]);
    expect(room.report.warnings.some((w) => w.startsWith('free space'))).toBe(false);
  });
});

describe('offpeak preflight', () => {
  it('exits 6 with the JSON report when a build needs more than the window, over the Data API', async () => {
    // Prepare: migration files on disk; a slow history in the CLI's ledger (schema offpeak)
    const dir = scratchDir('preflight-cli');
    try {
      writeMigration(dir.path, { revision: 'c1', downRevision: null, file: 'c1_idx.ts', body: `up: [createIndex({ name: 'idx_cli_email', schema: '${ns}', table: 'orders', columns: ['email'] })],` });
      await recordBuildSample(api.db.client, 'offpeak', { accessMethod: 'btree', bytes: 1000, seconds: 10, source: 'rehearsal' });
      const target = ['--data-api-endpoint', api.endpoint, '--resource-arn', api.resourceArn, '--secret-arn', api.secretArn, '--database', api.database];

      // Act
      const refused = await runCli(['preflight', '--migrations', dir.path, '--window', '01:00,30', '--json', ...target], { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_REGION: 'us-east-1' });
      const human = await runCli(['preflight', 'head', '--migrations', dir.path, '--window', '01:00,30', ...target], { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_REGION: 'us-east-1' });
      const badFree = await runCli(['preflight', '--migrations', dir.path, '--free-bytes', '10GB', ...target]);

      // Assess
      expect(refused.code, refused.stderr).toBe(6);
      const doc = JSON.parse(refused.stdout) as { units: Array<{ index: string; calibrated: boolean }>; window: unknown; warnings: string[] };
      expect(doc.units).toEqual([expect.objectContaining({ index: `${ns}.idx_cli_email`, calibrated: true })]);
      expect(doc.window).toEqual({ minutes: 30, fits: false, unitsThatFit: 0 });
      expect(doc.warnings.some((w) => /^refused: c1 step 1: index .*idx_cli_email .* longer than the whole 30-minute window/.test(w))).toBe(true);
      expect(human.code).toBe(6);
      expect(human.stdout).toMatch(/^c1 +step 1 +btree +\S+idx_cli_email/m);
      expect(human.stdout).toMatch(/^refused: c1 step 1: .*Widen the window/m);
      expect(badFree.code).toBe(2);
      expect(badFree.stderr).toMatch(/--free-bytes "10GB" is not a whole number of bytes/);
    } finally {
      dir.dispose();
    }
  });
});

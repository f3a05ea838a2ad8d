import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { createDataApiClient } from '../../../lambdas/core/db/data-api.ts';
import { createPgClient } from '../../../lambdas/core/db/pg.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { engineSupported, runDoctor, settingMs, type DoctorReport } from '../../../lambdas/core/doctor/doctor.ts';
import { defineMigration, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { createMigrator } from '../../../lambdas/core/migrations/runner.ts';
import { runCli, seedMigrationsDir } from '../../support/cli.ts';
import { createLocalRdsDataClient, startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { chain, load } from '../migrations/helpers.ts';

/** `offpeak doctor` on PGlite or PostgreSQL (TEST_DATABASE_URL), through the local Data API server and directly. */
let api: TestDataApi;
beforeAll(async () => {
  api = await startTestDataApi();
});
afterAll(async () => {
  await api?.dispose();
});

const doctor = (client: SqlClient, migrations = load(...chain('app_doc').all), clusterArn?: string): Promise<DoctorReport> =>
  runDoctor({ client, migrator: createMigrator({ client, migrations, schema: 'offpeak_doc' }), ledgerSchema: 'offpeak_doc', clusterArn });
const finding = (r: DoctorReport, check: string) => r.findings.find((f) => f.check === check);

describe('offpeak doctor', () => {
  it('passes a fresh database for its owner, over the Data API', async () => {
    const report = await doctor(api.adapter());
    expect(report.findings.map((f) => [f.check, f.status])).toEqual(
      expect.arrayContaining([
        ['reachable', 'ok'],
        ['engine version', 'ok'],
        ['statement_timeout', 'ok'],
        ['lock_timeout', 'ok'],
        ['idle_in_transaction_session_timeout', 'ok'],
        ['ledger privileges', 'ok'],
        ['extensions', 'ok'],
        ['ledger', 'ok'],
        ['clock skew', 'ok'],
      ]),
    );
    expect(report.ok).toBe(true);
  });

  it('maps HttpEndpointNotEnabledException to the enable-http-endpoint command', async () => {
    // The real SDK client and adapter; the service's answer is what a cluster without the Data API gives.
    const sdk = createLocalRdsDataClient(api.endpoint);
    sdk.middlewareStack.add(
      () => async () => {
        throw Object.assign(new Error('HTTP endpoint is not enabled for cluster shop-db'), { name: 'HttpEndpointNotEnabledException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
      },
      { step: 'initialize', name: 'endpointDisabled' },
    );
    const arn = 'arn:aws:rds:eu-west-1:111122223333:cluster:shop-db';
    const client = createDataApiClient({ client: sdk, resourceArn: arn, secretArn: api.secretArn, database: api.database });
    const report = await doctor(client, load(), arn);
    expect(report.ok).toBe(false);
    expect(report.findings).toEqual([
      expect.objectContaining({ check: 'reachable', status: 'problem', fix: `enable the Data API: aws rds enable-http-endpoint --resource-arn ${arn}` }),
    ]);
    sdk.destroy();
  });

  it('names short timeouts, missing privileges and tables owned by another role, each with its fix', async () => {
    // Prepare: a role that owns nothing and may create nothing, with a 5 s statement_timeout.
    const role = `offpeak_doc_${randomBytes(4).toString('hex')}`;
    const admin = api.db.client;
    await admin.query(sql`CREATE SCHEMA IF NOT EXISTS app_doc`);
    await admin.query(sql`CREATE TABLE app_doc.widgets (id bigint PRIMARY KEY)`);
    await admin.query(sql`CREATE ROLE ${sql.ident(role)} LOGIN`);
    await admin.query(sql`GRANT USAGE ON SCHEMA app_doc TO ${sql.ident(role)}`);
    let client: SqlClient;
    if (api.db.kind === 'pg') {
      await admin.query(sql`ALTER ROLE ${sql.ident(role)} SET statement_timeout = '5s'`);
      const url = new URL(api.db.url!);
      url.username = role;
      client = createPgClient({ connectionString: url.toString(), max: 1 });
    } else {
      // PGlite has one session: become the role in it.
      await admin.query(sql`SET ROLE ${sql.ident(role)}`);
      await admin.query(sql`SET statement_timeout = '5s'`);
      client = admin;
    }
    try {
      const report = await doctor(client);
      expect(report.ok).toBe(false);
      expect(finding(report, 'statement_timeout')).toMatchObject({ status: 'problem', detail: expect.stringMatching(/^5s/), fix: expect.stringContaining('statement_timeout = 0') });
      expect(finding(report, 'ledger privileges')).toMatchObject({ status: 'problem', fix: 'GRANT CREATE ON DATABASE <database> TO <role>;' });
      expect(finding(report, 'stats visibility')).toMatchObject({ status: 'warn', fix: expect.stringContaining('pg_read_all_stats') });
      expect(finding(report, 'table ownership')).toMatchObject({ status: 'problem', detail: expect.stringContaining('app_doc.widgets') });
    } finally {
      if (api.db.kind === 'pg') await client.close();
      else await admin.query(sql`RESET ROLE`).then(() => admin.query(sql`RESET statement_timeout`));
      await admin.query(sql`DROP TABLE app_doc.widgets`);
      await admin.query(sql`DROP OWNED BY ${sql.ident(role)}`);
      await admin.query(sql`DROP ROLE ${sql.ident(role)}`);
    }
  });

  it('warns about an extension a pending migration needs that the server does not offer', async () => {
    const m = defineMigration({
      revision: '202601090001',
      downRevision: null,
      description: 'needs an extension',
      risk: 'low',
      up: [sqlStep('CREATE EXTENSION IF NOT EXISTS offpeak_no_such_ext', { lock: 'none' }), sqlStep('SELECT 1', { lock: 'none', when: { extensionAvailable: 'plpgsql' } })],
      down: [sqlStep('DROP EXTENSION IF EXISTS offpeak_no_such_ext', { lock: 'none' })],
    });
    const report = await doctor(api.adapter(), load(m));
    expect(finding(report, 'extensions')).toMatchObject({ status: 'warn', detail: expect.stringContaining('not available on this server: offpeak_no_such_ext'), fix: expect.stringContaining('offpeak_no_such_ext') });
  });

  it('reports an unfinished run (a warning: the next window resumes it)', async () => {
    const client = api.adapter();
    const migrator = createMigrator({ client, migrations: load(...chain('app_doc2').all), schema: 'offpeak_doc2', actor: 'test' });
    await migrator.start('up', 'heads');
    const report = await runDoctor({ client, migrator, ledgerSchema: 'offpeak_doc2' });
    expect(finding(report, 'unfinished run')).toMatchObject({ status: 'warn', fix: 'the next window resumes it' });
    expect(report.ok).toBe(true);
  });

  it('prints a table or JSON on the CLI and exits 0 when nothing is a problem', async () => {
    const args = ['--data-api-endpoint', api.endpoint, '--resource-arn', api.resourceArn, '--secret-arn', api.secretArn, '--database', api.database, '--migrations', seedMigrationsDir];
    const env = { AWS_ACCESS_KEY_ID: 'AKIDLOCAL', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1' };
    const table = await runCli(['doctor', ...args], env);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^reachable\s+OK\s+the database answers$/m);
    expect(table.stdout).toMatch(/all checks passed/);
    const json = await runCli(['doctor', ...args, '--json'], env);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as DoctorReport).findings.find((f) => f.check === 'engine version')!.status).toBe('ok');
  });

  it('exits 1 with the problem and its fix when the target does not answer', async () => {
    const args = ['--data-api-endpoint', 'http://127.0.0.1:1', '--resource-arn', api.resourceArn, '--secret-arn', api.secretArn, '--database', api.database, '--migrations', seedMigrationsDir];
    const run = await runCli(['doctor', ...args], { AWS_ACCESS_KEY_ID: 'AKIDLOCAL', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1' });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^reachable\s+PROBLEM\s+/m);
    expect(run.stdout).toMatch(/fix: check the cluster ARN, region and network/);
    expect(run.stdout).toMatch(/1 problem\(s\): see the fixes above/);
  });
});

describe('doctor rules', () => {
  it('knows the Data API engine floor per major version', () => {
    expect([130011, 130010, 140008, 150002, 150003, 160001, 170003, 170004, 180000].map(engineSupported)).toEqual([true, false, true, false, true, true, false, true, true]);
  });
  it('reads PostgreSQL timeout settings', () => {
    expect(['0', '200ms', '30s', '5min', '1h', '2d', 'junk'].map(settingMs)).toEqual([0, 200, 30_000, 300_000, 3_600_000, 172_800_000, Number.NaN]);
  });
});

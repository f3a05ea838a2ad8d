import { PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { fromModules } from '../../../lambdas/core/migrations/loader.ts';
import type { Migration } from '../../../lambdas/core/migrations/model.ts';
import { createMigrator } from '../../../lambdas/core/migrations/runner.ts';
import { Ledger } from '../../../lambdas/core/migrations/ledger.ts';
import { RehearsalState as S } from '../../../infra/constructs/rehearsal.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { handlerEnv, lambdaContext } from '../../unit/handlers/lambda-context.ts';
import { synthOffpeak, TEST_SETTINGS } from '../synth.ts';
import { resourceNamed, stateMachineDefinition, type StateMachineDefinition } from '../template-helpers.ts';
import { indexes, table, uniqueCodes } from './scenario-migrations.ts';

vi.mock('../../../migrations/_index.ts', () => ({
  get migrations() {
    return (globalThis as Record<string, unknown>)['__offpeakScenarioMigrations'] ?? [];
  },
}));

/**
 * The synthesized rehearsal state machine, executed with aws-local-stepfunctions (as harness.ts does for the
 * window run). The Lambda tasks call the real handlers in process; the RDS calls (restore, describe, enable the
 * Data API, create and delete) are answered by a fake that records them; Waits and retry intervals are
 * shortened. The clone is a second local database behind a second local Data API server, holding what
 * production holds: the handlers' Data API calls for an offpeak-rehearsal-* ARN are routed to it, as the real
 * service routes by ARN.
 */

type HandlerName = 'plan' | 'migrate' | 'rehearsal';
type Handler = (event: unknown, context: Context) => Promise<unknown>;

interface RdsFake {
  calls: Array<{ action: string; input: Record<string, unknown> }>;
  clusterStatuses: string[];
  instanceStatuses: string[];
  /** Error names deleteDBCluster throws (every attempt). */
  deleteClusterFails: boolean;
}

interface Execution {
  status: 'SUCCEEDED' | 'FAILED';
  error: string | null;
  path: string[];
  notices: Array<{ subject: string; text: string }>;
  rds: RdsFake['calls'];
}

let production: TestDataApi;
let clone: TestDataApi;
let definition: StateMachineDefinition;
let functionOf: Map<string, HandlerName>;
let handlers: Record<HandlerName, Handler>;
const sns = mockClient(SNSClient);

beforeAll(async () => {
  const P = Promise as unknown as { withResolvers?: () => unknown };
  P.withResolvers ??= function withResolvers<T>() {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
  const { template, nagErrors } = synthOffpeak(TEST_SETTINGS);
  if (nagErrors.length) throw new Error(`synth failed: ${nagErrors.join('\n')}`);
  definition = stateMachineDefinition(resourceNamed(template, 'AWS::StepFunctions::StateMachine', 'RehearsalStateMachine').props);
  functionOf = new Map([
    [`<${resourceNamed(template, 'AWS::Lambda::Function', 'MigrationsPlan').id}.Arn>`, 'plan'],
    [`<${resourceNamed(template, 'AWS::Lambda::Function', 'MigrationsMigrate').id}.Arn>`, 'migrate'],
    [`<${resourceNamed(template, 'AWS::Lambda::Function', 'RehearsalFunction').id}.Arn>`, 'rehearsal'],
  ]);
  production = await startTestDataApi();
  clone = await startTestDataApi();
});

afterAll(async () => {
  sns.restore();
  await production?.dispose();
  await clone?.dispose();
});

/**
 * Both databases get the application as production has it (`applied`, run to its head), then the handlers are
 * loaded over `bundle` (what the Lambdas would carry: `applied` plus what is pending).
 */
async function deploy(applied: Migration[], bundle: Migration[], ledgerSchema: string): Promise<void> {
  for (const db of [production, clone]) {
    const migrator = createMigrator({ client: db.db.client, migrations: fromModules(applied.map((migration) => ({ file: `${migration.revision}_s.ts`, migration }))), schema: ledgerSchema, actor: 'test:setup' });
    expect((await migrator.runToCompletion('up', 'heads')).status).toBe('done');
  }
  (globalThis as Record<string, unknown>)['__offpeakScenarioMigrations'] = bundle.map((migration) => ({ file: `${migration.revision}_scenario.ts`, migration }));
  Object.assign(process.env, handlerEnv(production), {
    OFFPEAK_LEDGER_SCHEMA: ledgerSchema,
    OFFPEAK_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111122223333:offpeak-alerts',
    OFFPEAK_WINDOW_MINUTES: '90',
  });
  vi.resetModules();
  handlers = {
    plan: (await import('../../../lambdas/handlers/plan.ts')).handler as Handler,
    migrate: (await import('../../../lambdas/handlers/migrate.ts')).handler as Handler,
    rehearsal: (await import('../../../lambdas/handlers/rehearsal.ts')).handler as Handler,
  };
  // The Data API routes by cluster ARN: calls for a rehearsal clone go to the clone's server. On PostgreSQL the
  // stand-in clone is another database of the same server (the local server picks it by the request's name), so
  // its name is swapped in too; on AWS a clone keeps the source's database names.
  const { rdsDataClient } = await import('../../../lambdas/runtime/data-api.ts');
  const clonePort = Number(new URL(clone.endpoint).port);
  const forClone = (input: unknown) => ((input as { resourceArn?: string }).resourceArn ?? '').includes(':cluster:offpeak-rehearsal-');
  rdsDataClient.middlewareStack.add(
    (next) => async (args) => next(forClone(args.input) && (args.input as { database?: string }).database ? { ...args, input: { ...(args.input as object), database: clone.database } as typeof args.input } : args),
    { step: 'initialize', name: 'offpeakTestCloneDatabase' },
  );
  rdsDataClient.middlewareStack.add(
    (next) => async (args) => {
      if (forClone(args.input)) (args.request as { port?: number }).port = clonePort;
      return next(args);
    },
    { step: 'finalizeRequest', name: 'offpeakTestCloneRouting' },
  );
}

async function run(options: { rds?: Partial<RdsFake>; failMigrate?: boolean } = {}): Promise<Execution> {
  const { StateMachine } = await import('aws-local-stepfunctions');
  const fake: RdsFake = { calls: [], clusterStatuses: ['creating', 'available'], instanceStatuses: ['creating', 'available'], deleteClusterFails: false, ...options.rds };
  const notices: Execution['notices'] = [];
  sns.reset();
  sns.on(PublishCommand).callsFake((input: PublishCommandInput) => {
    notices.push({ subject: input.Subject!, text: (JSON.parse(input.Message!) as { email: string }).email });
    return { MessageId: `msg-${notices.length}` };
  });
  let clusterChecks = 0;
  let instanceChecks = 0;
  const account = '111122223333';
  const rds: Record<string, (input: Record<string, unknown>) => unknown> = {
    restoreDBClusterToPointInTime: (i) => ({ DbCluster: { DbClusterIdentifier: i['DbClusterIdentifier'], DbClusterArn: `arn:aws:rds:eu-west-1:${account}:cluster:${String(i['DbClusterIdentifier'])}`, Status: 'creating' } }),
    describeDBClusters: () => ({ DbClusters: [{ Status: fake.clusterStatuses[Math.min(clusterChecks++, fake.clusterStatuses.length - 1)] }] }),
    enableHttpEndpoint: (i) => ({ ResourceArn: i['ResourceArn'], HttpEndpointEnabled: true }),
    createDBInstance: (i) => ({ DbInstance: { DbInstanceIdentifier: i['DbInstanceIdentifier'], DbInstanceStatus: 'creating' } }),
    describeDBInstances: () => ({ DbInstances: [{ DbInstanceStatus: fake.instanceStatuses[Math.min(instanceChecks++, fake.instanceStatuses.length - 1)] }] }),
    deleteDBInstance: () => ({ DbInstance: { DbInstanceStatus: 'deleting' } }),
    deleteDBCluster: () => {
      if (fake.deleteClusterFails) throw Object.assign(new Error('User is not authorized to perform: rds:DeleteDBCluster'), { name: 'Rds.RdsException' });
      return { DbCluster: { Status: 'deleting' } };
    },
  };
  const local: Record<string, (input: unknown) => Promise<never>> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type !== 'Task') continue;
    const fn = functionOf.get(state.Resource!);
    if (fn) {
      local[name] = async (payload) => {
        if (fn === 'migrate' && options.failMigrate) throw Object.assign(new Error('{"errorType":"Error","errorMessage":"the function crashed"}'), { name: 'Error' });
        try {
          return JSON.parse(JSON.stringify(await handlers[fn](payload, lambdaContext(`offpeak-${fn}`)))) as never;
        } catch (error) {
          const e = error as Error;
          throw Object.assign(new Error(JSON.stringify({ errorType: e.name, errorMessage: e.message })), { name: e.name });
        }
      };
      continue;
    }
    const action = /:rds:(\w+)$/.exec(state.Resource!)?.[1];
    if (!action || !rds[action]) throw new Error(`state ${name}: no local stand-in for ${state.Resource}`);
    local[name] = async (input) => {
      fake.calls.push({ action, input: input as Record<string, unknown> });
      return rds[action]!(input as Record<string, unknown>) as never;
    };
  }
  const zero = (type: string) => Object.fromEntries(Object.entries(definition.States).filter(([, s]) => s.Type === type).map(([n]) => [n, 0]));
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false, checkPaths: true } });
  const input = { source: 'manual' };
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: local as never, waitTimeOverrides: zero('Wait'), retryIntervalOverrides: Object.fromEntries(Object.keys(local).map((n) => [n, 0])) },
    context: {
      Execution: { Id: 'arn:aws:states:eu-west-1:111122223333:execution:OffpeakRehearsal:test', Input: input as never, StartTime: new Date().toISOString() },
      StateMachine: { Id: 'arn:aws:states:eu-west-1:111122223333:stateMachine:OffpeakRehearsal', Name: 'OffpeakRehearsal' },
      // The executor has no $$.State; the clone's naming reads its time from there.
      State: { Name: S.nameClone, EnteredTime: new Date().toISOString(), RetryCount: 0 },
    } as never,
  });
  const path: string[] = [];
  const logs = (async () => {
    for await (const e of execution.eventLogs) if (e.type === 'StateEntered') path.push(e.state.name);
  })();
  let status: Execution['status'] = 'SUCCEEDED';
  let error: string | null = null;
  try {
    await execution.result;
  } catch (e) {
    status = 'FAILED';
    error = ((e as Error).cause as Error | undefined)?.name ?? (e as Error).name;
  }
  await logs;
  return { status, error, path, notices, rds: fake.calls };
}

const cloneIdOf = (x: Execution) => String(x.rds.find((c) => c.action === 'restoreDBClusterToPointInTime')?.input['DbClusterIdentifier']);

/** The clone is deleted: the instance, then the cluster, both without a final snapshot, both the restored id. */
function expectCloneDeleted(x: Execution, options: { instance: boolean }) {
  const id = cloneIdOf(x);
  const deletes = x.rds.filter((c) => c.action.startsWith('delete'));
  expect(deletes).toEqual([
    ...(options.instance ? [{ action: 'deleteDBInstance', input: { DbInstanceIdentifier: id, SkipFinalSnapshot: true } }] : []),
    { action: 'deleteDBCluster', input: { DbClusterIdentifier: id, SkipFinalSnapshot: true } },
  ]);
}

async function samples(schema: string): Promise<Array<{ source: string; index_name: string }>> {
  const { rows } = await production.db.client.query<{ source: string; index_name: string }>(sql`SELECT source, index_name FROM ${sql.ident(schema, 'index_build_samples')} ORDER BY id`);
  return rows;
}

describe('rehearsal state machine, executed', () => {
  it('happy path: clones, enables the Data API, adds a Serverless v2 instance, rehearses, records calibration in production, deletes the clone, notifies', async () => {
    // Prepare: production (and so the clone) has the table; two index builds are pending.
    await deploy([table('reh_ok')], [table('reh_ok'), indexes('reh_ok', 2)], 'offpeak_reh_ok');
    // Act
    const x = await run();
    // Assess
    expect(x.status, x.path.join(' → ')).toBe('SUCCEEDED');
    const id = cloneIdOf(x);
    expect(id).toMatch(/^offpeak-rehearsal-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(x.rds.map((c) => c.action)).toEqual([
      'restoreDBClusterToPointInTime',
      'describeDBClusters',
      'describeDBClusters',
      'enableHttpEndpoint',
      'createDBInstance',
      'describeDBInstances',
      'describeDBInstances',
      'deleteDBInstance',
      'deleteDBCluster',
    ]);
    expect(x.rds[0]!.input).toMatchObject({ SourceDbClusterIdentifier: 'shop-db', RestoreType: 'copy-on-write', UseLatestRestorableTime: true, ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 } });
    expect(x.rds.find((c) => c.action === 'enableHttpEndpoint')!.input).toEqual({ ResourceArn: `arn:aws:rds:eu-west-1:111122223333:cluster:${id}` });
    expect(x.rds.find((c) => c.action === 'createDBInstance')!.input).toMatchObject({ DbInstanceIdentifier: id, DbClusterIdentifier: id, DbInstanceClass: 'db.serverless', Engine: 'aurora-postgresql' });
    expectCloneDeleted(x, { instance: true });
    // The plan ran on the clone, not on production; production's ledger gained the builds' samples.
    expect((await new Ledger(clone.db.client, 'offpeak_reh_ok').applied()).map((r) => r.revision)).toEqual(['202601010001', '202601010002']);
    expect((await new Ledger(production.db.client, 'offpeak_reh_ok').applied()).map((r) => r.revision)).toEqual(['202601010001']);
    const { rows: prodIndexes } = await production.db.client.query(sql`SELECT 1 FROM pg_indexes WHERE schemaname = 'reh_ok' AND indexname LIKE 'idx_orders_%'`);
    expect(prodIndexes).toEqual([]);
    expect((await samples('offpeak_reh_ok')).map((s) => [s.source, s.index_name])).toEqual([
      ['rehearsal', 'idx_orders_0'],
      ['rehearsal', 'idx_orders_1'],
    ]);
    // One notice: the durations, the fit, the clone's lifetime.
    expect(x.notices).toHaveLength(1);
    expect(x.notices[0]!.subject).toMatch(new RegExp(`^offpeak ${production.database}: rehearsal done in .+, fits the window$`));
    expect(x.notices[0]!.text).toMatch(/^ {2}202601010002 +\S+( \S+)? +index orders \(2\)$/m);
    expect(x.notices[0]!.text).toMatch(/^total .+: fits the 90-minute window$/m);
    expect(x.notices[0]!.text).toMatch(/^ {2}idx_orders_0 \(btree\) /m);
    expect(x.notices[0]!.text).toMatch(/^calibration: 2 build sample\(s\) recorded in the production ledger for pre-flight$/m);
    expect(x.notices[0]!.text).toMatch(new RegExp(`^clone: ${id}, lived .+, deleted$`, 'm'));
  });

  it('a migration failing on the clone: the finished builds are recorded, the clone deleted, the notice says FAILED, the execution fails', async () => {
    await deploy([table('reh_fail', { duplicateCodes: true })], [table('reh_fail', { duplicateCodes: true }), uniqueCodes('reh_fail')], 'offpeak_reh_fail');
    const x = await run();
    expect(x.status).toBe('FAILED');
    expect(x.error).toBe('RehearsalFailed');
    expect(x.path).toContain(S.record);
    expectCloneDeleted(x, { instance: true });
    expect(x.notices).toHaveLength(1);
    expect(x.notices[0]!.subject).toBe(`offpeak ${production.database}: rehearsal FAILED`);
    expect(x.notices[0]!.text).toMatch(/^failed at "rehearsal run": run failed: .*could not create unique index/m);
    expect(x.notices[0]!.text).toMatch(/, deleted$/m);
  });

  it('the migrate function crashing mid-rehearsal is caught into the cleanup: the clone is deleted and the notice names the failure', async () => {
    await deploy([table('reh_crash')], [table('reh_crash'), indexes('reh_crash', 1)], 'offpeak_reh_crash');
    const x = await run({ failMigrate: true });
    expect(x.status).toBe('FAILED');
    expect(x.path).not.toContain(S.record);
    expectCloneDeleted(x, { instance: true });
    expect(x.notices[0]!.text).toMatch(/^failed at "migrate": Error: the function crashed$/m);
  });

  it('a clone that never becomes available: gives up after the poll budget, deletes the cluster (no instance was made), notifies', async () => {
    await deploy([table('reh_slow')], [table('reh_slow'), indexes('reh_slow', 1)], 'offpeak_reh_slow');
    const x = await run({ rds: { clusterStatuses: ['creating'] } });
    expect(x.status).toBe('FAILED');
    expect(x.path).toContain(S.clusterNeverReady);
    expect(x.rds.filter((c) => c.action === 'describeDBClusters')).toHaveLength(60);
    expect(x.rds.some((c) => c.action === 'createDBInstance')).toBe(false);
    expectCloneDeleted(x, { instance: false });
    expect(x.notices[0]!.text).toMatch(/CloneNotAvailable: the clone did not become available after 60 checks/);
  });

  it('a clone that cannot be deleted: the notice says so first, with the commands to delete it by hand', async () => {
    await deploy([table('reh_stuck')], [table('reh_stuck'), indexes('reh_stuck', 1)], 'offpeak_reh_stuck');
    const x = await run({ rds: { deleteClusterFails: true } });
    expect(x.status).toBe('FAILED');
    expect(x.path).toContain(S.cloneNotDeleted);
    const id = cloneIdOf(x);
    expect(x.notices[0]!.subject).toMatch(/CLONE NOT DELETED$/);
    expect(x.notices[0]!.text).toContain(`aws rds delete-db-cluster --db-cluster-identifier ${id} --skip-final-snapshot`);
  });

  it('nothing pending: no clone is made', async () => {
    await deploy([table('reh_none')], [table('reh_none')], 'offpeak_reh_none');
    const x = await run();
    expect(x.status).toBe('SUCCEEDED');
    expect(x.path).toEqual([S.plan, S.pending, S.nothingPending]);
    expect(x.rds).toEqual([]);
    expect(x.notices).toEqual([]);
  });
});

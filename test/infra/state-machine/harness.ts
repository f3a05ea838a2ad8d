import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context } from 'aws-lambda';
import { vi } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { Ledger } from '../../../lambdas/core/migrations/ledger.ts';
import type { Migration } from '../../../lambdas/core/migrations/model.ts';
import { StateName } from '../../../infra/constructs/migration-runner.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { handlerEnv, lambdaContext } from '../../unit/handlers/lambda-context.ts';
import { synthOffpeak, TEST_SETTINGS } from '../synth.ts';
import { resourceNamed, stateMachineDefinition, type StateMachineDefinition } from '../template-helpers.ts';

/**
 * Runs the window-run state machine exactly as synthesized (the definition from the
 * CloudFormation template) with aws-local-stepfunctions: Choice, Retry, Catch,
 * ResultPath and Map semantics are the library's, not ours. Each Lambda task calls
 * the real handler in process (middy, zod, Powertools, the real RDS Data SDK client
 * against the local Data API server over PGlite or PostgreSQL); the notify
 * handler's SNS publishes are captured with aws-sdk-client-mock, and the plan function's CloudWatch
 * GetMetricData (FreeLocalStorage) is answered by it; the RDS snapshot
 * SDK tasks are answered by a small fake; Waits and retry intervals are shortened.
 *
 * Lambda's own behaviour is reproduced where the state machine depends on it: a
 * function error reaches Step Functions as Error = errorType and Cause = the JSON
 * Lambda builds ({"errorType","errorMessage","trace"}).
 */

/**
 * The migrations the handlers bundle. Each test file mocks migrations/_index.ts to read
 * this; it lives on globalThis because deploy() resets the module registry.
 */
export const BUNDLE_KEY = '__offpeakScenarioMigrations';
const setBundle = (entries: Array<{ file: string; migration: Migration }>) => {
  (globalThis as Record<string, unknown>)[BUNDLE_KEY] = entries;
};

export type HandlerName = 'plan' | 'migrate' | 'notify';

/** A fault the harness injects before calling a handler, as Lambda or the database would produce it. */
export type Inject = (call: { handler: HandlerName; attempt: number; payload: unknown }) => Error | undefined | Promise<Error | undefined>;

export interface SnapshotFake {
  created: string[];
  described: string[];
  deleted: string[];
  /** Statuses Describe answers in turn for the new snapshot; the last repeats. */
  statuses: string[];
  /** Snapshots List answers (besides the new one). */
  existing: Array<{ DbClusterSnapshotIdentifier: string; SnapshotCreateTime: string }>;
}

export interface Execution {
  status: 'SUCCEEDED' | 'FAILED';
  output: Record<string, unknown> | null;
  error: { name: string; message: string } | null;
  /** Every state entered, in order. */
  path: string[];
  retried: Array<{ state: string; error: string }>;
  caught: Array<{ state: string; error: string }>;
  /** Notices as published (successful publishes only). */
  notices: Array<{ subject: string; text: string; notice: Record<string, unknown> }>;
  /** Publish attempts, refused ones included. */
  publishAttempts: number;
  calls: Record<HandlerName, number>;
}

export interface RunOptions {
  /** Execution input, as the schedule (or a console start) gives it. */
  input?: Record<string, unknown>;
  /** `$$.Execution.StartTime`. */
  startTime?: Date;
  inject?: Inject;
  /** Remaining-time budget each migrate invocation gets (ms). */
  migrateBudgetMs?: (attempt: number) => number;
  /** Called after each migrate invocation (e.g. to move the clock past the window's end). */
  afterMigrate?: (result: unknown, attempt: number) => void | Promise<void>;
  /** SNS refuses every publish. */
  snsDown?: boolean;
  /** The writer's FreeLocalStorage CloudWatch answers the plan function with (bytes); without it, no datapoint (free space unknown). */
  freeLocalStorage?: number;
}

export interface Harness {
  api: TestDataApi;
  definition: StateMachineDefinition;
  snapshots: SnapshotFake;
  /** Loads the handlers over `migrations` with this ledger schema (fresh modules, so the bundle is re-read). */
  deploy(migrations: Migration[], ledgerSchema: string): Promise<void>;
  run(options?: RunOptions): Promise<Execution>;
  /** The runs a ledger schema holds, oldest first. */
  runs(ledgerSchema: string): Promise<Array<{ run_id: string; status: string; position: number }>>;
  /** The revisions a ledger schema records as applied. */
  applied(ledgerSchema: string): Promise<string[]>;
  dispose(): Promise<void>;
}

const TOPIC_ARN = 'arn:aws:sns:eu-west-1:111122223333:offpeak-alerts';
const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:111122223333:stateMachine:OffpeakWindowRun';

/** Lambda's rendering of a function error, as Step Functions receives it. */
function asLambdaError(error: unknown): Error {
  const e = error as Error;
  const wrapped = new Error(JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: (e.stack ?? '').split('\n') }));
  wrapped.name = e.name;
  return wrapped;
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

export async function createHarness(options: { statementTimeoutMs?: number } = {}): Promise<Harness> {
  // aws-local-stepfunctions 3 targets Node 22; on Node 20 it needs this one ES2024 helper.
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
  const { StateMachine } = await import('aws-local-stepfunctions');

  const { template, nagErrors } = synthOffpeak({ ...TEST_SETTINGS, snapshotRetentionDays: 14 });
  if (nagErrors.length) throw new Error(`synth failed: ${nagErrors.join('\n')}`);
  const definition = stateMachineDefinition(resourceNamed(template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun').props);
  const functionOf = new Map<string, HandlerName>([
    [`<${resourceNamed(template, 'AWS::Lambda::Function', 'MigrationsPlan').id}.Arn>`, 'plan'],
    [`<${resourceNamed(template, 'AWS::Lambda::Function', 'MigrationsMigrate').id}.Arn>`, 'migrate'],
    [`<${resourceNamed(template, 'AWS::Lambda::Function', 'MigrationsNotify').id}.Arn>`, 'notify'],
  ]);

  const api = await startTestDataApi(options.statementTimeoutMs ? { statementTimeoutMs: options.statementTimeoutMs } : {});
  const sns = mockClient(SNSClient);
  const cloudwatch = mockClient(CloudWatchClient);
  const snapshots: SnapshotFake = { created: [], described: [], deleted: [], statuses: ['available'], existing: [] };
  let handlers: Record<HandlerName, Handler> | undefined;

  async function deploy(migrations: Migration[], ledgerSchema: string): Promise<void> {
    setBundle(migrations.map((migration) => ({ file: `${migration.revision}_scenario.ts`, migration })));
    Object.assign(process.env, handlerEnv(api), {
      OFFPEAK_LEDGER_SCHEMA: ledgerSchema,
      OFFPEAK_TOPIC_ARN: TOPIC_ARN,
      OFFPEAK_ROLLBACK_FUNCTION: 'Offpeak-MigrationsRollbackFunction-Test',
      OFFPEAK_SNAPSHOT_RETENTION_DAYS: '14',
      OFFPEAK_WINDOW_MINUTES: '120',
    });
    vi.resetModules();
    handlers = {
      plan: (await import('../../../lambdas/handlers/plan.ts')).handler as Handler,
      migrate: (await import('../../../lambdas/handlers/migrate.ts')).handler as Handler,
      notify: (await import('../../../lambdas/handlers/notify.ts')).handler as Handler,
    };
    // Each Data API call moves the (Date-only) fake clock a second, as in the handler tests:
    // deadlines and the window then count calls, not wall time, whatever the machine's load.
    const { rdsDataClient } = await import('../../../lambdas/runtime/data-api.ts');
    rdsDataClient.middlewareStack.add(
      (next) => async (args) => {
        vi.setSystemTime(Date.now() + 1_000);
        return next(args);
      },
      { step: 'initialize', name: 'offpeakTestClock' },
    );
  }

  async function run(options: RunOptions = {}): Promise<Execution> {
    if (!handlers) throw new Error('deploy() first');
    const calls: Record<HandlerName, number> = { plan: 0, migrate: 0, notify: 0 };
    const notices: Execution['notices'] = [];
    let publishAttempts = 0;
    sns.reset();
    cloudwatch.reset();
    cloudwatch.on(GetMetricDataCommand).callsFake(() => ({
      MetricDataResults: [
        options.freeLocalStorage === undefined
          ? { Id: 'free', Values: [], Timestamps: [] }
          : { Id: 'free', Values: [options.freeLocalStorage], Timestamps: [new Date(Date.now() - 60_000)] },
      ],
    }));
    sns.on(PublishCommand).callsFake((input: PublishCommandInput) => {
      publishAttempts++;
      if (options.snsDown) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException', $fault: 'client', $metadata: {} });
      const message = JSON.parse(input.Message!) as { default: string; lambda: string };
      notices.push({ subject: input.Subject!, text: message.default, notice: (JSON.parse(message.lambda) as { notice: Record<string, unknown> }).notice });
      return { MessageId: `msg-${publishAttempts}` };
    });

    const invoke = (name: HandlerName) => async (payload: unknown) => {
      const attempt = ++calls[name];
      const injected = await options.inject?.({ handler: name, attempt, payload });
      if (injected) throw asLambdaError(injected);
      const budget = name === 'migrate' ? (options.migrateBudgetMs?.(attempt) ?? 900_000) : 900_000;
      try {
        // Read at each call: a deploy() between two advances (afterMigrate) swaps the functions' code, as a
        // `cdk deploy` during an execution does for the next invocation.
        const result = await handlers![name](payload, lambdaContext(`offpeak-${name}`, budget));
        if (name === 'migrate') await options.afterMigrate?.(result, attempt);
        return JSON.parse(JSON.stringify(result)) as never;
      } catch (error) {
        throw asLambdaError(error);
      }
    };
    let describeCalls = 0;
    const sdk: Record<string, (input: unknown) => unknown> = {
      createDBClusterSnapshot: (input) => {
        const id = (input as { DbClusterSnapshotIdentifier: string }).DbClusterSnapshotIdentifier;
        snapshots.created.push(id);
        return { DbClusterSnapshot: { DbClusterSnapshotIdentifier: id, Status: 'creating' } };
      },
      describeSnapshot: (input) => {
        const id = (input as { DbClusterSnapshotIdentifier: string }).DbClusterSnapshotIdentifier;
        snapshots.described.push(id);
        const status = snapshots.statuses[Math.min(describeCalls++, snapshots.statuses.length - 1)]!;
        return { DbClusterSnapshots: [{ DbClusterSnapshotIdentifier: id, Status: status }] };
      },
      listSnapshots: () => ({
        DbClusterSnapshots: [
          ...snapshots.existing,
          ...snapshots.created.map((id) => ({ DbClusterSnapshotIdentifier: id, SnapshotCreateTime: new Date().toISOString() })),
        ],
      }),
      deleteDBClusterSnapshot: (input) => {
        snapshots.deleted.push((input as { DbClusterSnapshotIdentifier: string }).DbClusterSnapshotIdentifier);
        return {};
      },
    };

    // Every Task state by its Resource: a function of the stack, or an RDS SDK integration.
    const local: Record<string, (input: unknown) => Promise<never>> = {};
    const collect = (states: StateMachineDefinition['States']) => {
      for (const [name, state] of Object.entries(states)) {
        const nested = (state as { ItemProcessor?: StateMachineDefinition }).ItemProcessor;
        if (nested) collect(nested.States);
        if (state.Type !== 'Task') continue;
        const fn = functionOf.get(state.Resource!);
        if (fn) local[name] = invoke(fn);
        else if (state.Resource!.endsWith(':rds:createDBClusterSnapshot')) local[name] = async (i) => sdk['createDBClusterSnapshot']!(i) as never;
        else if (state.Resource!.endsWith(':rds:describeDBClusterSnapshots')) {
          local[name] = async (i) => ((i as { DbClusterIdentifier?: string }).DbClusterIdentifier ? sdk['listSnapshots']!(i) : sdk['describeSnapshot']!(i)) as never;
        } else if (state.Resource!.endsWith(':rds:deleteDBClusterSnapshot')) local[name] = async (i) => sdk['deleteDBClusterSnapshot']!(i) as never;
        else throw new Error(`state ${name}: no local stand-in for ${state.Resource}`);
      }
    };
    collect(definition.States);
    const waits = Object.fromEntries(Object.entries(definition.States).filter(([, s]) => s.Type === 'Wait').map(([n]) => [n, 1]));
    const retries = Object.fromEntries(Object.entries(local).map(([n]) => [n, 1]));

    const input = options.input ?? { source: 'schedule', scheduledTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    const startTime = options.startTime ?? new Date();
    const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false, checkPaths: true } });
    const execution = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: local as never, waitTimeOverrides: waits, retryIntervalOverrides: retries },
      context: {
        Execution: { Id: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:test`, Input: input as never, StartTime: startTime.toISOString() },
        StateMachine: { Id: STATE_MACHINE_ARN, Name: 'OffpeakWindowRun' },
      },
    });
    const path: string[] = [];
    const retried: Execution['retried'] = [];
    const caught: Execution['caught'] = [];
    const logs = (async () => {
      const failures = new Map<string, string>();
      for await (const e of execution.eventLogs) {
        if (e.type === 'StateEntered') path.push(e.state.name);
        if (e.type === 'StateFailed') failures.set(e.state.name, e.Error);
        if (e.type === 'StateRetried') retried.push({ state: e.state.name, error: failures.get(e.state.name) ?? '?' });
        if (e.type === 'StateCaught') caught.push({ state: e.state.name, error: failures.get(e.state.name) ?? '?' });
      }
    })();
    let status: Execution['status'] = 'SUCCEEDED';
    let output: Record<string, unknown> | null = null;
    let error: Execution['error'] = null;
    try {
      output = (await execution.result) as Record<string, unknown>;
    } catch (e) {
      status = 'FAILED';
      error = { name: (e as Error).name, message: (e as Error).message };
    }
    await logs;
    return { status, output, error, path, retried, caught, notices, publishAttempts, calls };
  }

  return {
    api,
    definition,
    snapshots,
    deploy,
    run,
    async runs(ledgerSchema) {
      const { rows } = await api.db.client.query<{ run_id: string; status: string; position: number }>(
        sql`SELECT run_id, status, position FROM ${sql.ident(ledgerSchema, 'migration_runs')} ORDER BY started_at`,
      );
      return rows;
    },
    async applied(ledgerSchema) {
      return (await new Ledger(api.db.client, ledgerSchema).applied()).map((r) => r.revision);
    },
    async dispose() {
      sns.restore();
      cloudwatch.restore();
      await api.dispose();
    },
  };
}

export { StateName };

import { Arn, ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EnvName } from '../../lambdas/runtime/env-names.ts';
import { cronWeekdays } from '../../lambdas/runtime/window.ts';
import { FailedStateKey } from '../../lambdas/handlers/notify-keys.ts';
import type { DatabaseTarget } from './database-target.ts';
import { OffpeakFunction } from './offpeak-function.ts';
import { acknowledgeInvokeQualifiers } from '../nag.ts';
import { OffpeakSchedule } from './offpeak-schedule.ts';

export interface MigrationRunnerProps {
  database: DatabaseTarget;
  topic: sns.ITopic;
  /** The topic's key: the notify function publishes to the encrypted topic. */
  topicKey: kms.IKey;
  deadLetterQueue: sqs.IQueue;
  /** When each off-peak window opens, e.g. `cron(0 2 ? * MON-FRI *)`. */
  windowCron: string;
  timeZone: string;
  windowMinutes: number;
  /** Take a cluster snapshot before a run that holds a medium- or high-risk migration. */
  snapshotBeforeRiskyMigrations: boolean;
  /** offpeak-* snapshots older than this are deleted after a new one is taken. */
  snapshotRetentionDays: number;
  /** The load guard of the migrate function (load-guard.ts), as validated settings text; unset for none. */
  maxLoad?: string | undefined;
  criticalLoad?: string | undefined;
  /** Pause between `advance` calls while a run is in progress. */
  pollInterval?: Duration;
  /** Pause between snapshot status checks. */
  snapshotPollInterval?: Duration;
}

/** The Choice states switch on these; they are the runner's `advance` statuses. */
export const RunStatus = {
  done: 'done',
  inProgress: 'in_progress',
  /** The engine stopped an advance early (its abort signal); the next advance resumes it. */
  interrupted: 'interrupted',
  windowClosed: 'window_closed',
  failed: 'failed',
} as const;

/** State names, fixed so tests, dashboards and operators can refer to them. */
export const StateName = {
  plan: FailedStateKey.plan,
  anythingPending: 'Anything pending?',
  nothingPending: 'Nothing pending',
  risky: 'Snapshot needed?',
  createSnapshot: FailedStateKey.snapshot,
  waitForSnapshot: 'Wait for snapshot',
  describeSnapshot: 'Describe snapshot',
  snapshotReady: 'Snapshot available?',
  snapshotNotAvailable: 'Snapshot not available',
  listOldSnapshots: 'List offpeak snapshots',
  deleteOldSnapshots: 'Delete expired snapshots',
  expired: 'Expired?',
  deleteSnapshot: 'Delete snapshot',
  keepSnapshot: 'Keep snapshot',
  cleanupSkipped: 'Snapshot cleanup skipped',
  startRun: 'Start run',
  migrate: FailedStateKey.migrate,
  runStatus: 'Run status?',
  pause: 'Pause before next advance',
  notifyDone: 'Notify run done',
  doneNoticeLost: 'Run done notice not sent',
  notifyWindowClosed: 'Notify window closed',
  windowNoticeLost: 'Window closed notice not sent',
  notifyFailure: 'Notify run failed',
  succeeded: 'Run finished',
  pausedUntilNextWindow: 'Paused until next window',
  failedNotified: 'Run failed (notified)',
  failed: 'Run failed, notice not sent',
} as const;

/** Lambda's own transient failures, retried with backoff on every Lambda task. */
export const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

/**
 * The off-peak window run: a Standard state machine that snapshots the cluster
 * before a risky run (once per run), loops `advance` until the run is done, the
 * window closes or a step fails, and sends exactly one notice for the outcome,
 * started by an EventBridge Scheduler cron in a time zone.
 */
export class MigrationRunner extends Construct {
  readonly plan: OffpeakFunction;
  readonly migrate: OffpeakFunction;
  readonly rollback: OffpeakFunction;
  readonly notify: OffpeakFunction;
  readonly stateMachine: sfn.StateMachine;
  readonly schedule: OffpeakSchedule;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: MigrationRunnerProps) {
    super(scope, id);

    this.plan = new OffpeakFunction(this, 'Plan', {
      handler: 'plan',
      description: 'offpeak: which migrations are pending, whether to snapshot, and what is left over',
      timeout: Duration.minutes(2),
    }).bindDatabase(props.database);
    this.plan.addEnvironment(EnvName.windowMinutes, String(props.windowMinutes));
    this.plan.addEnvironment(EnvName.windowDays, cronWeekdays(props.windowCron).join(','));
    this.plan.addEnvironment(EnvName.snapshotRetentionDays, String(props.snapshotRetentionDays));
    // Pre-flight checks the builds against the writer's FreeLocalStorage (lambdas/runtime/free-storage.ts).
    this.plan.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }));
    Validations.of(this.plan.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:GetMetricData supports only Resource "*" (no resource-level permissions); the plan function reads the writer\'s FreeLocalStorage with it, read-only.',
    });

    this.migrate = new OffpeakFunction(this, 'Migrate', {
      handler: 'migrate',
      description: 'offpeak: advances a window run until done, the window closes or the deadline nears',
      timeout: Duration.minutes(15),
    }).bindDatabase(props.database);
    this.migrate.addEnvironment(EnvName.windowMinutes, String(props.windowMinutes));
    if (props.maxLoad) this.migrate.addEnvironment(EnvName.maxLoad, props.maxLoad);
    if (props.criticalLoad) this.migrate.addEnvironment(EnvName.criticalLoad, props.criticalLoad);

    this.rollback = new OffpeakFunction(this, 'Rollback', {
      handler: 'rollback',
      description: 'offpeak: manual rollback to a revision (dry run first; acts only with confirm)',
      timeout: Duration.minutes(15),
    }).bindDatabase(props.database);

    this.notify = new OffpeakFunction(this, 'Notify', {
      handler: 'notify',
      description: 'offpeak: renders a window-run notice (done, window closed, failed) and publishes it',
      timeout: Duration.seconds(30),
      memorySize: 256,
    }).bindTopic(props.topic, props.topicKey);
    this.notify.addEnvironment(EnvName.databaseName, props.database.databaseName);
    this.notify.addEnvironment(EnvName.rollbackFunctionName, this.rollback.function.functionName);

    // Under /aws/vendedlogs/: Step Functions' log delivery otherwise adds a resource policy per log group,
    // and CloudWatch Logs caps those at 10 per account and region.
    this.logGroup = new logs.LogGroup(this, 'WindowRunLogs', {
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-window-run`,
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.stateMachine = new sfn.StateMachine(this, 'WindowRun', {
      comment: 'offpeak off-peak window run',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props)),
      // A window plus the time a snapshot can take; a run left over resumes in the next window.
      timeout: Duration.minutes(props.windowMinutes).plus(Duration.hours(6)),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });

    for (const fn of [this.plan.function, this.migrate.function, this.notify.function]) {
      acknowledgeInvokeQualifiers(this.stateMachine, fn);
    }
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Generated by CDK for execution logging and X-Ray tracing: the CloudWatch Logs delivery actions (logs:CreateLogDelivery, …) and xray:PutTraceSegments/PutTelemetryRecords/GetSampling* support only Resource "*".',
    });

    this.schedule = new OffpeakSchedule(this, 'WindowSchedule', {
      description: 'offpeak: opens the off-peak migration window',
      cron: props.windowCron,
      timeZone: props.timeZone,
      deadLetterQueue: props.deadLetterQueue,
      target: (options) =>
        new targets.StepFunctionsStartExecution(this.stateMachine, {
          ...options,
          // The window is measured from the scheduled time, not from when a retried delivery started.
          input: scheduler.ScheduleTargetInput.fromObject({ source: 'schedule', scheduledTime: scheduler.ContextAttribute.scheduledTime }),
        }),
    });
  }

  /** A Lambda task with offpeak's retries: Lambda's transient errors and an unavailable database, with backoff. */
  private lambdaTask(name: string, fn: OffpeakFunction, payload: Record<string, unknown>, resultPath: string): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, name, {
      lambdaFunction: fn.function,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath,
    });
    task.addRetry({ errors: LAMBDA_TRANSIENT_ERRORS, interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    // Aurora resuming from zero capacity, a failover: the Data API says so and the call is safe to repeat.
    task.addRetry({ errors: ['DatabaseUnavailableError'], interval: Duration.seconds(15), maxAttempts: 5, backoffRate: 2, maxDelay: Duration.minutes(2) });
    return task;
  }

  private notice(name: string, kind: 'run_done' | 'window_closed' | 'run_failed'): tasks.LambdaInvoke {
    const task = this.lambdaTask(
      name,
      this.notify,
      {
        kind,
        stateMachineArn: sfn.JsonPath.stringAt('$$.StateMachine.Id'),
        execution: sfn.JsonPath.stringAt('$$.Execution.Id'),
        startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
        state: sfn.JsonPath.entirePayload,
      },
      '$.notice',
    );
    // SNS throttling or a KMS hiccup: the notify function throws ReportPublishError.
    task.addRetry({ errors: ['ReportPublishError'], interval: Duration.seconds(5), maxAttempts: 4, backoffRate: 2 });
    return task;
  }

  private definition(props: MigrationRunnerProps): sfn.IChainable {
    const notifyFailure = this.notice(StateName.notifyFailure, 'run_failed');
    notifyFailure.addCatch(new sfn.Fail(this, StateName.failed, { error: 'WindowRunFailed', cause: 'the run failed and its notice could not be published: see the execution history' }), {
      errors: [sfn.Errors.ALL],
      resultPath: '$.noticeError',
    });
    notifyFailure.next(new sfn.Succeed(this, StateName.failedNotified, { comment: 'The run failed; its notice was sent. Handled: no alarm.' }));

    const catchInto = <T extends sfn.TaskStateBase>(task: T, key: keyof typeof FailedStateKey): T => {
      task.addCatch(notifyFailure, { errors: [sfn.Errors.ALL], resultPath: `$.failed.${key}` });
      return task;
    };

    const plan = catchInto(
      this.lambdaTask(
        StateName.plan,
        this.plan,
        // The whole execution input (a console start sends {"Comment": …}) and the start time,
        // which stands in for the scheduled time when there is none.
        { input: sfn.JsonPath.objectAt('$$.Execution.Input'), startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime') },
        '$.plan',
      ),
      'plan',
    );

    // throttledMs: the load guard's time over max-load, summed over the window's advance calls.
    const startRun = new sfn.Pass(this, StateName.startRun, { result: sfn.Result.fromObject({ runId: null, throttledMs: 0 }), resultPath: '$.run' });

    const migrate = catchInto(
      this.lambdaTask(
        StateName.migrate,
        this.migrate,
        { runId: sfn.JsonPath.stringAt('$.run.runId'), windowEndsAt: sfn.JsonPath.stringAt('$.plan.windowEndsAt'), throttledMs: sfn.JsonPath.numberAt('$.run.throttledMs') },
        '$.run',
      ),
      'migrate',
    );
    // Another run holds the lease (a CLI upgrade, or a crashed run whose lease has not expired yet: the
    // TTL outlasts the Data API's 3-minute transaction idle timeout). Wait it out instead of failing the run.
    migrate.addRetry({ errors: ['LeaseHeldError'], interval: Duration.minutes(1), maxAttempts: 5, backoffRate: 1 });
    // The engine's word for "stopped, resumable": this run's lease was lost (a heartbeat found it expired or
    // taken), or a call's outcome could not be established. The next advance resumes (and reconciles) from
    // the ledger, so try again after a pause; once exhausted the failure notice names the error.
    migrate.addRetry({ errors: ['LeaseLostError', 'OutcomeUnknownError'], interval: Duration.seconds(30), maxAttempts: 3, backoffRate: 2 });

    // No "more pending?" loop after done: every advance re-plans its run to the heads of the bundle it
    // runs with (runner reconcileRun), so a run resumed in a later window, or one whose bundle grew between
    // two advances, applies the newer migrations itself and finishes with nothing pending.
    const notifyDone = this.notice(StateName.notifyDone, 'run_done');
    const succeeded = new sfn.Succeed(this, StateName.succeeded);
    notifyDone.addCatch(new sfn.Pass(this, StateName.doneNoticeLost).next(succeeded), { errors: [sfn.Errors.ALL], resultPath: '$.noticeError' });
    notifyDone.next(succeeded);

    const paused = new sfn.Succeed(this, StateName.pausedUntilNextWindow);
    const notifyWindowClosed = this.notice(StateName.notifyWindowClosed, 'window_closed');
    notifyWindowClosed.addCatch(new sfn.Pass(this, StateName.windowNoticeLost).next(paused), { errors: [sfn.Errors.ALL], resultPath: '$.noticeError' });
    notifyWindowClosed.next(paused);

    const pause = new sfn.Wait(this, StateName.pause, { time: sfn.WaitTime.duration(props.pollInterval ?? Duration.seconds(10)) });

    const runStatus = new sfn.Choice(this, StateName.runStatus)
      .when(sfn.Condition.stringEquals('$.run.status', RunStatus.done), notifyDone)
      .when(
        sfn.Condition.or(sfn.Condition.stringEquals('$.run.status', RunStatus.inProgress), sfn.Condition.stringEquals('$.run.status', RunStatus.interrupted)),
        pause.next(migrate),
      )
      .when(sfn.Condition.stringEquals('$.run.status', RunStatus.windowClosed), notifyWindowClosed)
      .otherwise(notifyFailure);

    const run = startRun.next(migrate).next(runStatus);
    const afterPlan = props.snapshotBeforeRiskyMigrations ? this.snapshotThen(props, run, catchInto, notifyFailure) : run;

    return plan.next(
      new sfn.Choice(this, StateName.anythingPending)
        .when(sfn.Condition.numberEquals('$.plan.pending', 0), new sfn.Succeed(this, StateName.nothingPending))
        .otherwise(afterPlan),
    );
  }

  /**
   * Snapshot the cluster when the plan says so (a medium/high-risk migration and no run
   * left over from an earlier window), wait for it, delete expired offpeak-* snapshots, then run.
   */
  private snapshotThen(
    props: MigrationRunnerProps,
    run: sfn.IChainable,
    catchInto: <T extends sfn.TaskStateBase>(task: T, key: keyof typeof FailedStateKey) => T,
    notifyFailure: sfn.IChainable,
  ): sfn.IChainable {
    const cluster = Arn.split(props.database.clusterArn, ArnFormat.COLON_RESOURCE_NAME);
    const snapshotArn = Arn.format(
      {
        partition: cluster.partition,
        service: 'rds',
        region: cluster.region,
        account: cluster.account,
        resource: 'cluster-snapshot',
        resourceName: 'offpeak-*',
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      Stack.of(this),
    );

    const create = catchInto(
      new tasks.CallAwsService(this, StateName.createSnapshot, {
        service: 'rds',
        action: 'createDBClusterSnapshot',
        iamAction: 'rds:CreateDBClusterSnapshot',
        parameters: {
          DbClusterIdentifier: cluster.resourceName,
          // Snapshot ids must be unique, start with a letter and have no double hyphens: a UUID fits.
          DbClusterSnapshotIdentifier: sfn.JsonPath.format('offpeak-{}', sfn.JsonPath.uuid()),
        },
        iamResources: [props.database.clusterArn, snapshotArn],
        // A cluster with CopyTagsToSnapshot copies its tags onto the snapshot, which needs this too.
        additionalIamStatements: [new iam.PolicyStatement({ actions: ['rds:AddTagsToResource'], resources: [snapshotArn] })],
        resultSelector: { id: sfn.JsonPath.stringAt('$.DbClusterSnapshot.DbClusterSnapshotIdentifier') },
        resultPath: '$.snapshot',
      }),
      'snapshot',
    );
    Validations.of(this).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${snapshotArn}]`,
      reason: 'Snapshot identifiers are generated per run (offpeak-<uuid>), so create/describe/tag/delete are granted on snapshots with the offpeak- prefix of this account and region only.',
    });
    const wait = new sfn.Wait(this, StateName.waitForSnapshot, {
      time: sfn.WaitTime.duration(props.snapshotPollInterval ?? Duration.minutes(1)),
    });
    const describe = catchInto(
      new tasks.CallAwsService(this, StateName.describeSnapshot, {
        service: 'rds',
        action: 'describeDBClusterSnapshots',
        iamAction: 'rds:DescribeDBClusterSnapshots',
        parameters: { DbClusterSnapshotIdentifier: sfn.JsonPath.stringAt('$.snapshot.id') },
        iamResources: [snapshotArn],
        resultSelector: { status: sfn.JsonPath.stringAt('$.DbClusterSnapshots[0].Status') },
        resultPath: '$.snapshot.state',
      }),
      'snapshot',
    );

    // Retention: list this cluster's manual snapshots and delete offpeak-* ones older than the cutoff
    // the plan computed (now − snapshotRetentionDays). A failure here never stops the run.
    const cleanupSkipped = new sfn.Pass(this, StateName.cleanupSkipped, { resultPath: sfn.JsonPath.DISCARD }).next(run);
    const list = new tasks.CallAwsService(this, StateName.listOldSnapshots, {
      service: 'rds',
      action: 'describeDBClusterSnapshots',
      iamAction: 'rds:DescribeDBClusterSnapshots',
      parameters: { DbClusterIdentifier: cluster.resourceName, SnapshotType: 'manual' },
      iamResources: [props.database.clusterArn, snapshotArn],
      resultSelector: { snapshots: sfn.JsonPath.listAt('$.DbClusterSnapshots') },
      resultPath: '$.oldSnapshots',
    });
    list.addCatch(cleanupSkipped, { errors: [sfn.Errors.ALL], resultPath: '$.cleanupError' });
    const del = new tasks.CallAwsService(this, StateName.deleteSnapshot, {
      service: 'rds',
      action: 'deleteDBClusterSnapshot',
      iamAction: 'rds:DeleteDBClusterSnapshot',
      parameters: { DbClusterSnapshotIdentifier: sfn.JsonPath.stringAt('$.id') },
      iamResources: [snapshotArn],
      resultPath: sfn.JsonPath.DISCARD,
    });
    const expired = new sfn.Choice(this, StateName.expired)
      .when(
        sfn.Condition.and(
          sfn.Condition.stringMatches('$.id', 'offpeak-*'),
          sfn.Condition.isPresent('$.created'),
          sfn.Condition.timestampLessThanJsonPath('$.created', '$.cutoff'),
          sfn.Condition.not(sfn.Condition.stringEqualsJsonPath('$.id', '$.current')),
        ),
        del,
      )
      .otherwise(new sfn.Pass(this, StateName.keepSnapshot));
    const deleteExpired = new sfn.Map(this, StateName.deleteOldSnapshots, {
      itemsPath: '$.oldSnapshots.snapshots',
      itemSelector: {
        id: sfn.JsonPath.stringAt('$$.Map.Item.Value.DbClusterSnapshotIdentifier'),
        created: sfn.JsonPath.stringAt('$$.Map.Item.Value.SnapshotCreateTime'),
        cutoff: sfn.JsonPath.stringAt('$.plan.snapshotCutoff'),
        current: sfn.JsonPath.stringAt('$.snapshot.id'),
      },
      maxConcurrency: 1,
      resultPath: sfn.JsonPath.DISCARD,
    }).itemProcessor(expired);
    deleteExpired.addCatch(cleanupSkipped, { errors: [sfn.Errors.ALL], resultPath: '$.cleanupError' });

    const notAvailable = new sfn.Pass(this, StateName.snapshotNotAvailable, {
      parameters: { Error: 'SnapshotNotAvailable', 'Cause.$': "States.Format('snapshot {} is {}', $.snapshot.id, $.snapshot.state.status)" },
      resultPath: '$.failed.snapshot',
    }).next(notifyFailure);
    const ready = new sfn.Choice(this, StateName.snapshotReady)
      .when(sfn.Condition.stringEquals('$.snapshot.state.status', 'available'), list.next(deleteExpired).next(run))
      .when(sfn.Condition.stringEquals('$.snapshot.state.status', 'creating'), wait)
      .otherwise(notAvailable);

    return new sfn.Choice(this, StateName.risky)
      .when(sfn.Condition.booleanEquals('$.plan.snapshotNeeded', true), create.next(wait).next(describe).next(ready))
      .otherwise(run);
  }
}

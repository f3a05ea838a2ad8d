import { Arn, ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EnvName } from '../../lambdas/runtime/env-names.ts';
import type { DatabaseTarget } from './database-target.ts';
import { OffpeakFunction, grantTopicKey } from './offpeak-function.ts';
import { acknowledgeInvokeQualifiers } from '../nag.ts';
import { OffpeakSchedule } from './offpeak-schedule.ts';

export interface MigrationRunnerProps {
  database: DatabaseTarget;
  topic: sns.ITopic;
  /** The topic's key: the state machine publishes to the encrypted topic itself. */
  topicKey: kms.IKey;
  deadLetterQueue: sqs.IQueue;
  /** The function that verifies indexes and runs ANALYZE after a run (the nightly analyze handler). */
  verifyFunction: lambda.IFunction;
  /** When each off-peak window opens, e.g. `cron(0 2 ? * MON-FRI *)`. */
  windowCron: string;
  timeZone: string;
  windowMinutes: number;
  /** Take a cluster snapshot before a plan that holds a medium- or high-risk migration. */
  snapshotBeforeRiskyMigrations: boolean;
  /** Pause between `advance` calls while a run is in progress. */
  pollInterval?: Duration;
  /** Pause between snapshot status checks. */
  snapshotPollInterval?: Duration;
}

/** The Choice states switch on these; they are the runner's `advance` statuses. */
export const RunStatus = {
  done: 'done',
  inProgress: 'in_progress',
  windowClosed: 'window_closed',
  failed: 'failed',
} as const;

/** State names, fixed so tests, dashboards and operators can refer to them. */
export const StateName = {
  plan: 'Plan pending migrations',
  anythingPending: 'Anything pending?',
  nothingPending: 'Nothing pending',
  risky: 'Medium or high risk?',
  createSnapshot: 'Create cluster snapshot',
  waitForSnapshot: 'Wait for snapshot',
  describeSnapshot: 'Describe snapshot',
  snapshotReady: 'Snapshot available?',
  startRun: 'Start run',
  migrate: 'Advance migrations',
  runStatus: 'Run status?',
  pause: 'Pause before next advance',
  verify: 'Verify indexes and ANALYZE',
  notifyDone: 'Notify run done',
  notifyWindowClosed: 'Notify window closed',
  notifyFailure: 'Notify run failed',
  succeeded: 'Run finished',
  pausedUntilNextWindow: 'Paused until next window',
  failed: 'Run failed',
} as const;

/**
 * The off-peak window run: a Standard state machine that optionally snapshots
 * the cluster before risky work, loops `advance` until the run is done, the
 * window closes or a step fails, then verifies indexes, runs ANALYZE and
 * notifies, started by an EventBridge Scheduler cron in a time zone.
 */
export class MigrationRunner extends Construct {
  readonly plan: OffpeakFunction;
  readonly migrate: OffpeakFunction;
  readonly rollback: OffpeakFunction;
  readonly stateMachine: sfn.StateMachine;
  readonly schedule: OffpeakSchedule;

  constructor(scope: Construct, id: string, props: MigrationRunnerProps) {
    super(scope, id);

    this.plan = new OffpeakFunction(this, 'Plan', {
      handler: 'plan',
      description: 'offpeak: which migrations are pending and whether any is medium or high risk',
      timeout: Duration.minutes(2),
    }).bindDatabase(props.database);
    this.plan.addEnvironment(EnvName.windowMinutes, String(props.windowMinutes));

    this.migrate = new OffpeakFunction(this, 'Migrate', {
      handler: 'migrate',
      description: 'offpeak: advances a window run until done, the window closes or the deadline nears',
      timeout: Duration.minutes(15),
    }).bindDatabase(props.database);
    this.migrate.addEnvironment(EnvName.windowMinutes, String(props.windowMinutes));

    this.rollback = new OffpeakFunction(this, 'Rollback', {
      handler: 'rollback',
      description: 'offpeak: manual rollback to a revision (dry run first; acts only with confirm)',
      timeout: Duration.minutes(15),
    }).bindDatabase(props.database);

    this.stateMachine = new sfn.StateMachine(this, 'WindowRun', {
      comment: 'offpeak off-peak window run',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props)),
      // A window plus the time a snapshot can take; a run left over resumes in the next window.
      timeout: Duration.minutes(props.windowMinutes).plus(Duration.hours(6)),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'WindowRunLogs', { retention: logs.RetentionDays.THREE_MONTHS }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
    });

    // The SnsPublish tasks grant sns:Publish; the encrypted topic also needs its key.
    grantTopicKey(this.stateMachine, props.topicKey);
    for (const fn of [this.plan.function, this.migrate.function, props.verifyFunction]) {
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

  private definition(props: MigrationRunnerProps): sfn.IChainable {
    const notifyFailure = new tasks.SnsPublish(this, StateName.notifyFailure, {
      topic: props.topic,
      subject: 'offpeak: window run failed',
      message: sfn.TaskInput.fromObject({
        event: 'window_run_failed',
        execution: sfn.JsonPath.executionId,
        // The whole state: the caught error when there is one, the plan, run and snapshot otherwise.
        state: sfn.JsonPath.entirePayload,
      }),
      resultPath: sfn.JsonPath.DISCARD,
    }).next(new sfn.Fail(this, StateName.failed, { error: 'WindowRunFailed', cause: 'see the execution history and the alerts topic' }));

    const catchAll = <T extends sfn.TaskStateBase>(task: T): T => {
      task.addCatch(notifyFailure, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      return task;
    };

    const plan = catchAll(
      new tasks.LambdaInvoke(this, StateName.plan, {
        lambdaFunction: this.plan.function,
        // The whole execution input (a manual start may pass `{}`) and the start time,
        // which stands in for the scheduled time when there is none.
        payload: sfn.TaskInput.fromObject({
          input: sfn.JsonPath.objectAt('$$.Execution.Input'),
          startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
        }),
        payloadResponseOnly: true,
        resultPath: '$.plan',
      }),
    );

    const startRun = new sfn.Pass(this, StateName.startRun, {
      result: sfn.Result.fromObject({ runId: null }),
      resultPath: '$.run',
    });

    const migrate = catchAll(
      new tasks.LambdaInvoke(this, StateName.migrate, {
        lambdaFunction: this.migrate.function,
        payload: sfn.TaskInput.fromObject({
          runId: sfn.JsonPath.stringAt('$.run.runId'),
          windowEndsAt: sfn.JsonPath.stringAt('$.plan.windowEndsAt'),
        }),
        payloadResponseOnly: true,
        resultPath: '$.run',
      }),
    );
    // Another run holds the lease (a CLI upgrade, or a crashed run whose lease has not expired yet: the
    // TTL outlasts the Data API's 3-minute transaction idle timeout). Wait it out instead of failing the run.
    migrate.addRetry({ errors: ['LeaseHeldError'], interval: Duration.minutes(1), maxAttempts: 5, backoffRate: 1 });

    const verify = catchAll(
      new tasks.LambdaInvoke(this, StateName.verify, {
        lambdaFunction: props.verifyFunction,
        payload: sfn.TaskInput.fromObject({ source: 'window-run', verify: true, runId: sfn.JsonPath.stringAt('$.run.runId') }),
        payloadResponseOnly: true,
        resultPath: '$.verify',
      }),
    );

    const notifyDone = new tasks.SnsPublish(this, StateName.notifyDone, {
      topic: props.topic,
      subject: 'offpeak: window run done',
      message: sfn.TaskInput.fromObject({
        event: 'window_run_done',
        runId: sfn.JsonPath.stringAt('$.run.runId'),
        // Revisions the plan held; the last advance's `applied` covers only its own call.
        revisions: sfn.JsonPath.listAt('$.plan.revisions'),
        runVerification: sfn.JsonPath.objectAt('$.run.verification'),
        verify: sfn.JsonPath.objectAt('$.verify'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });

    const notifyWindowClosed = new tasks.SnsPublish(this, StateName.notifyWindowClosed, {
      topic: props.topic,
      subject: 'offpeak: window closed, run resumes in the next window',
      message: sfn.TaskInput.fromObject({
        event: 'window_run_paused',
        runId: sfn.JsonPath.stringAt('$.run.runId'),
        position: sfn.JsonPath.numberAt('$.run.position'),
        total: sfn.JsonPath.numberAt('$.run.total'),
        next: sfn.JsonPath.objectAt('$.run.next'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });

    const pause = new sfn.Wait(this, StateName.pause, { time: sfn.WaitTime.duration(props.pollInterval ?? Duration.seconds(10)) });

    const runStatus = new sfn.Choice(this, StateName.runStatus)
      .when(sfn.Condition.stringEquals('$.run.status', RunStatus.done), verify.next(notifyDone).next(new sfn.Succeed(this, StateName.succeeded)))
      .when(sfn.Condition.stringEquals('$.run.status', RunStatus.inProgress), pause.next(migrate))
      .when(
        sfn.Condition.stringEquals('$.run.status', RunStatus.windowClosed),
        notifyWindowClosed.next(new sfn.Succeed(this, StateName.pausedUntilNextWindow)),
      )
      .when(sfn.Condition.stringEquals('$.run.status', RunStatus.failed), notifyFailure)
      .otherwise(notifyFailure);

    const run = startRun.next(migrate).next(runStatus);

    const afterPlan = props.snapshotBeforeRiskyMigrations ? this.snapshotThen(props, run, catchAll, notifyFailure) : run;

    return plan.next(
      new sfn.Choice(this, StateName.anythingPending)
        .when(sfn.Condition.numberEquals('$.plan.pending', 0), new sfn.Succeed(this, StateName.nothingPending))
        .otherwise(afterPlan),
    );
  }

  /** Snapshot the cluster when the plan holds a medium/high-risk migration, wait for it, then run. */
  private snapshotThen(
    props: MigrationRunnerProps,
    run: sfn.IChainable,
    catchAll: <T extends sfn.TaskStateBase>(task: T) => T,
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

    const create = catchAll(
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
        // Acknowledged below: snapshot names are made at run time, so the grant is by the offpeak- prefix.
        resultSelector: { id: sfn.JsonPath.stringAt('$.DbClusterSnapshot.DbClusterSnapshotIdentifier') },
        resultPath: '$.snapshot',
      }),
    );
    Validations.of(this).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${snapshotArn}]`,
      reason: 'Snapshot identifiers are generated per run (offpeak-<uuid>), so create/describe are granted on snapshots with the offpeak- prefix of this account and region only.',
    });
    const wait = new sfn.Wait(this, StateName.waitForSnapshot, {
      time: sfn.WaitTime.duration(props.snapshotPollInterval ?? Duration.minutes(1)),
    });
    const describe = catchAll(
      new tasks.CallAwsService(this, StateName.describeSnapshot, {
        service: 'rds',
        action: 'describeDBClusterSnapshots',
        iamAction: 'rds:DescribeDBClusterSnapshots',
        parameters: { DbClusterSnapshotIdentifier: sfn.JsonPath.stringAt('$.snapshot.id') },
        iamResources: [snapshotArn],
        resultSelector: { status: sfn.JsonPath.stringAt('$.DbClusterSnapshots[0].Status') },
        resultPath: '$.snapshot.state',
      }),
    );
    const ready = new sfn.Choice(this, StateName.snapshotReady)
      .when(sfn.Condition.stringEquals('$.snapshot.state.status', 'available'), run)
      .when(sfn.Condition.stringEquals('$.snapshot.state.status', 'creating'), wait)
      .otherwise(notifyFailure);

    return new sfn.Choice(this, StateName.risky)
      .when(sfn.Condition.booleanEquals('$.plan.risky', true), create.next(wait).next(describe).next(ready))
      .otherwise(run);
  }
}

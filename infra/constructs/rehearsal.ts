import { Arn, ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EnvName } from '../../lambdas/runtime/env-names.ts';
import type { DatabaseTarget } from './database-target.ts';
import { LAMBDA_TRANSIENT_ERRORS, RunStatus } from './migration-runner.ts';
import { OffpeakFunction } from './offpeak-function.ts';
import { OffpeakSchedule } from './offpeak-schedule.ts';
import { acknowledgeInvokeQualifiers } from '../nag.ts';

/** Every clone (cluster and its one instance) is named with this prefix; IAM allows nothing else. */
export const REHEARSAL_PREFIX = 'offpeak-rehearsal-';

export interface RehearsalProps {
  database: DatabaseTarget;
  /** The window run's functions: plan (is anything pending?) and migrate (run against the clone). */
  plan: OffpeakFunction;
  migrate: OffpeakFunction;
  topic: sns.ITopic;
  topicKey: kms.IKey;
  windowMinutes: number;
  /** Start a rehearsal on this cron (in `timeZone`), e.g. a few hours before each window; it skips when nothing is pending. Unset: on demand only. */
  cron: string | undefined;
  timeZone: string;
  deadLetterQueue: sqs.IQueue;
  /** The clone's Serverless v2 capacity range (ACUs): builds are timed at this capacity. */
  minCapacity: number;
  maxCapacity: number;
  /** The clone's DB subnet group, when the source's is not the one to use. */
  subnetGroupName: string | undefined;
  /** Pause between status checks of the clone, and how many checks before giving up. */
  pollInterval?: Duration;
  maxPolls?: number;
  /** Pause between advances of the rehearsal run. */
  advanceInterval?: Duration;
}

/** State names, fixed so tests, dashboards and operators can refer to them. */
export const RehearsalState = {
  plan: 'Anything to rehearse?',
  pending: 'Pending migrations?',
  nothingPending: 'Nothing to rehearse',
  nameClone: 'Name the clone',
  restore: 'Clone the cluster',
  waitCluster: 'Wait for the clone',
  describeCluster: 'Describe the clone',
  countCluster: 'Count clone checks',
  clusterReady: 'Clone available?',
  clusterNeverReady: 'Clone never available',
  enableDataApi: 'Enable the Data API',
  createInstance: 'Add a Serverless v2 instance',
  waitInstance: 'Wait for the instance',
  describeInstance: 'Describe the instance',
  countInstance: 'Count instance checks',
  instanceReady: 'Instance available?',
  instanceNeverReady: 'Instance never available',
  startRun: 'Start the rehearsal run',
  migrate: 'Rehearse on the clone',
  runStatus: 'Rehearsal run status?',
  pause: 'Pause before next advance',
  record: 'Record calibration',
  hasInstance: 'Instance to delete?',
  deleteInstance: 'Delete the instance',
  hasCluster: 'Clone to delete?',
  deleteCluster: 'Delete the clone',
  cloneDeleted: 'Clone deleted',
  cloneNotDeleted: 'Clone NOT deleted',
  notify: 'Notify rehearsal',
  noticeLost: 'Rehearsal notice not sent',
  outcome: 'Rehearsal outcome?',
  succeeded: 'Rehearsal finished',
  failed: 'Rehearsal failed',
} as const;

/**
 * Rehearsal on AWS (issue 15): an Aurora fast clone of the cluster (copy-on-write, from the latest restorable
 * time), one Serverless v2 instance on it with the Data API enabled, the window run's migrate function run
 * against the clone with no window, the builds' rates recorded in the production ledger for pre-flight, and a
 * notice. The clone is deleted on every path: each state that can fail is caught into the cleanup branch, which
 * deletes the instance, then the cluster (no final snapshot), and says in the notice if it could not.
 */
export class Rehearsal extends Construct {
  readonly function: OffpeakFunction;
  readonly stateMachine: sfn.StateMachine;
  readonly schedule: OffpeakSchedule | undefined;
  readonly logGroup: logs.LogGroup;
  /** ARN patterns of the clones: clusters and instances named offpeak-rehearsal-*. */
  readonly cloneClusterArns: string;
  readonly cloneInstanceArns: string;

  constructor(scope: Construct, id: string, props: RehearsalProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const source = Arn.split(props.database.clusterArn, ArnFormat.COLON_RESOURCE_NAME);
    const arn = (resource: string, resourceName: string) =>
      Arn.format({ partition: source.partition, service: 'rds', region: source.region, account: source.account, resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }, stack);
    this.cloneClusterArns = arn('cluster', `${REHEARSAL_PREFIX}*`);
    this.cloneInstanceArns = arn('db', `${REHEARSAL_PREFIX}*`);

    const dataApiOnClones = new iam.PolicyStatement({
      sid: 'DataApiOnRehearsalClones',
      actions: ['rds-data:ExecuteStatement', 'rds-data:BeginTransaction', 'rds-data:CommitTransaction', 'rds-data:RollbackTransaction'],
      resources: [this.cloneClusterArns],
    });
    // The migrate function runs the plan on a clone when the rehearsal passes its ARN (only such ARNs pass its schema).
    props.migrate.role.addToPrincipalPolicy(dataApiOnClones);

    this.function = new OffpeakFunction(this, 'Function', {
      handler: 'rehearsal',
      description: 'offpeak: records a rehearsal clone\'s build rates in the production ledger, and sends the rehearsal notice',
      timeout: Duration.minutes(2),
    })
      .bindDatabase(props.database)
      .bindTopic(props.topic, props.topicKey);
    this.function.addEnvironment(EnvName.windowMinutes, String(props.windowMinutes));
    this.function.role.addToPrincipalPolicy(dataApiOnClones);
    for (const role of [props.migrate.role, this.function.role]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${this.cloneClusterArns}]`,
        reason: 'Rehearsal clones are named per execution (offpeak-rehearsal-<uuid>); the Data API is allowed on clusters with that prefix in this account and region only.',
      });
    }

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${stack.stackName}-rehearsal`,
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'offpeak rehearsal: the pending plan on an Aurora fast clone, timed; the clone always deleted',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props, source.resourceName!)),
      // Clone and instance (up to two poll budgets), the plan, and the deletion.
      timeout: Duration.hours(12),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    for (const fn of [props.plan.function, props.migrate.function, this.function.function]) acknowledgeInvokeQualifiers(this.stateMachine, fn);
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Generated by CDK for execution logging and X-Ray tracing: the CloudWatch Logs delivery actions and xray:PutTraceSegments/PutTelemetryRecords/GetSampling* support only Resource "*".',
    });
    for (const pattern of [this.cloneClusterArns, this.cloneInstanceArns]) {
      Validations.of(this.stateMachine).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${pattern}]`,
        reason: 'Rehearsal clones are named per execution (offpeak-rehearsal-<uuid>): creating, describing, tagging and deleting are allowed on clusters and instances with that prefix in this account and region only.',
      });
    }

    this.schedule = props.cron
      ? new OffpeakSchedule(this, 'Schedule', {
          description: 'offpeak: rehearses the pending migrations on a fast clone before the window',
          cron: props.cron,
          timeZone: props.timeZone,
          deadLetterQueue: props.deadLetterQueue,
          target: (options) =>
            new targets.StepFunctionsStartExecution(this.stateMachine, { ...options, input: scheduler.ScheduleTargetInput.fromObject({ source: 'schedule', scheduledTime: scheduler.ContextAttribute.scheduledTime }) }),
        })
      : undefined;
  }

  private lambdaTask(name: string, fn: OffpeakFunction, payload: Record<string, unknown>, resultPath: string): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, name, { lambdaFunction: fn.function, payload: sfn.TaskInput.fromObject(payload), payloadResponseOnly: true, retryOnServiceExceptions: false, resultPath });
    task.addRetry({ errors: LAMBDA_TRANSIENT_ERRORS, interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    // A clone's instance resuming or just made available: the Data API says so and the call is safe to repeat.
    task.addRetry({ errors: ['DatabaseUnavailableError'], interval: Duration.seconds(15), maxAttempts: 5, backoffRate: 2, maxDelay: Duration.minutes(2) });
    return task;
  }

  private rds(
    name: string,
    action: string,
    parameters: Record<string, unknown>,
    resources: string[],
    resultPath: string,
    resultSelector?: Record<string, unknown>,
    /** Tags given on create need the tagging action on what is created. */
    tagged?: string,
  ): tasks.CallAwsService {
    return new tasks.CallAwsService(this, name, {
      ...(tagged ? { additionalIamStatements: [new iam.PolicyStatement({ actions: ['rds:AddTagsToResource'], resources: [tagged] })] } : {}),
      service: 'rds',
      action,
      iamAction: `rds:${action[0]!.toUpperCase()}${action.slice(1)}`,
      parameters,
      iamResources: resources,
      resultPath,
      ...(resultSelector ? { resultSelector } : {}),
    });
  }

  private definition(props: RehearsalProps, sourceClusterId: string): sfn.IChainable {
    const S = RehearsalState;
    const pollInterval = props.pollInterval ?? Duration.seconds(30);
    const maxPolls = props.maxPolls ?? 60;
    const cloneId = sfn.JsonPath.stringAt('$.clone.id');
    const tags = [{ Key: 'offpeak', Value: 'rehearsal' }];

    // ---------------------------------------------------------------- cleanup: always reached
    const notify = this.lambdaTask(
      S.notify,
      this.function,
      { action: 'notify', execution: sfn.JsonPath.stringAt('$$.Execution.Id'), startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'), state: sfn.JsonPath.entirePayload },
      '$.notice',
    );
    notify.addRetry({ errors: ['ReportPublishError'], interval: Duration.seconds(5), maxAttempts: 4, backoffRate: 2 });
    // Rules in order: a missing $.run (a failure before the run) must not reach the string comparison.
    const failed = new sfn.Fail(this, S.failed, { error: 'RehearsalFailed', cause: 'the rehearsal failed or its clone could not be deleted: see the notice and the execution history' });
    const outcome = new sfn.Choice(this, S.outcome)
      .when(sfn.Condition.isPresent('$.failed'), failed)
      .when(sfn.Condition.isPresent('$.cleanupError'), failed)
      .when(sfn.Condition.isNotPresent('$.run.status'), failed)
      .when(sfn.Condition.stringEquals('$.run.status', RunStatus.done), new sfn.Succeed(this, S.succeeded))
      .otherwise(failed);
    notify.addCatch(new sfn.Pass(this, S.noticeLost).next(outcome), { errors: [sfn.Errors.ALL], resultPath: '$.noticeError' });
    notify.next(outcome);

    const cloneNotDeleted = new sfn.Pass(this, S.cloneNotDeleted).next(notify);
    // The notice follows at once: its function takes "now" as the end of the clone's life.
    const cloneDeleted = new sfn.Pass(this, S.cloneDeleted, { result: sfn.Result.fromObject({ deleted: true }), resultPath: '$.cleanup' }).next(notify);
    const deleteCluster = this.rds(
      S.deleteCluster,
      'deleteDBCluster',
      { DbClusterIdentifier: cloneId, SkipFinalSnapshot: true },
      [this.cloneClusterArns],
      sfn.JsonPath.DISCARD,
    );
    // The instance is still being deleted (the cluster refuses while it holds an instance not yet deleting), a throttle.
    deleteCluster.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(30), maxAttempts: 10, backoffRate: 1.5, maxDelay: Duration.minutes(5) });
    deleteCluster.addCatch(cloneNotDeleted, { errors: [sfn.Errors.ALL], resultPath: '$.cleanupError' });
    deleteCluster.next(cloneDeleted);
    const hasCluster = new sfn.Choice(this, S.hasCluster).when(sfn.Condition.isPresent('$.clone.cluster.arn'), deleteCluster).otherwise(cloneDeleted);

    const deleteInstance = this.rds(
      S.deleteInstance,
      'deleteDBInstance',
      { DbInstanceIdentifier: cloneId, SkipFinalSnapshot: true },
      [this.cloneInstanceArns],
      sfn.JsonPath.DISCARD,
    );
    deleteInstance.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(30), maxAttempts: 5, backoffRate: 1.5 });
    // The cluster deletion still runs: it fails (and says so) if the instance really is still there.
    deleteInstance.addCatch(hasCluster, { errors: [sfn.Errors.ALL], resultPath: '$.instanceCleanupError' });
    deleteInstance.next(hasCluster);
    const cleanup = new sfn.Choice(this, S.hasInstance).when(sfn.Condition.isPresent('$.clone.instance.id'), deleteInstance).otherwise(hasCluster);

    const catchInto = <T extends sfn.TaskStateBase>(task: T, key: string): T => {
      task.addCatch(cleanup, { errors: [sfn.Errors.ALL], resultPath: `$.failed.${key}` });
      return task;
    };

    // ---------------------------------------------------------------- the rehearsal
    const plan = this.lambdaTask(S.plan, props.plan, { input: sfn.JsonPath.objectAt('$$.Execution.Input'), startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'), rehearsal: true }, '$.plan');
    // No clone yet: a failed plan check fails the execution (alarmed), nothing to clean up.
    const nameClone = new sfn.Pass(this, S.nameClone, {
      parameters: {
        // 18 + 36 characters: a letter first, no double hyphen, no trailing hyphen (RDS identifier rules).
        'id.$': `States.Format('${REHEARSAL_PREFIX}{}', States.UUID())`,
        'requestedAt.$': '$$.State.EnteredTime',
        // Status checks so far, of the cluster and of the instance (each has the same budget).
        polls: 0,
        instancePolls: 0,
      },
      resultPath: '$.clone',
    });
    const restore = catchInto(
      this.rds(
        S.restore,
        'restoreDBClusterToPointInTime',
        {
          SourceDbClusterIdentifier: sourceClusterId,
          DbClusterIdentifier: cloneId,
          RestoreType: 'copy-on-write',
          UseLatestRestorableTime: true,
          DeletionProtection: false,
          ServerlessV2ScalingConfiguration: { MinCapacity: props.minCapacity, MaxCapacity: props.maxCapacity },
          ...(props.subnetGroupName ? { DbSubnetGroupName: props.subnetGroupName } : {}),
          Tags: tags,
        },
        [props.database.clusterArn, this.cloneClusterArns],
        '$.clone.cluster',
        { arn: sfn.JsonPath.stringAt('$.DbCluster.DbClusterArn') },
        this.cloneClusterArns,
      ),
      'restore',
    );
    const waitCluster = new sfn.Wait(this, S.waitCluster, { time: sfn.WaitTime.duration(pollInterval) });
    const describeCluster = catchInto(
      this.rds(S.describeCluster, 'describeDBClusters', { DbClusterIdentifier: cloneId }, [this.cloneClusterArns], '$.clone.clusterStatus', { status: sfn.JsonPath.stringAt('$.DbClusters[0].Status') }),
      'describeClone',
    );
    const countCluster = new sfn.Pass(this, S.countCluster, { parameters: { 'value.$': 'States.MathAdd($.clone.polls, 1)' }, resultPath: '$.clone.pollCount' });
    const storeCount = (name: string, counter: string) => new sfn.Pass(this, name, { inputPath: '$.clone.pollCount.value', resultPath: `$.clone.${counter}` });
    const neverReady = (name: string, what: string, counter: string) =>
      new sfn.Pass(this, name, {
        parameters: { Error: 'CloneNotAvailable', 'Cause.$': `States.Format('the ${what} did not become available after {} checks', $.clone.${counter})` },
        resultPath: `$.failed.${what === 'clone' ? 'cloneNotAvailable' : 'instanceNotAvailable'}`,
      }).next(cleanup);

    const enableDataApi = catchInto(this.rds(S.enableDataApi, 'enableHttpEndpoint', { ResourceArn: sfn.JsonPath.stringAt('$.clone.cluster.arn') }, [this.cloneClusterArns], sfn.JsonPath.DISCARD), 'enableDataApi');
    const createInstance = catchInto(
      this.rds(
        S.createInstance,
        'createDBInstance',
        { DbInstanceIdentifier: cloneId, DbClusterIdentifier: cloneId, DbInstanceClass: 'db.serverless', Engine: 'aurora-postgresql', Tags: tags },
        [this.cloneInstanceArns, this.cloneClusterArns],
        '$.clone.instance',
        { id: sfn.JsonPath.stringAt('$.DbInstance.DbInstanceIdentifier') },
        this.cloneInstanceArns,
      ),
      'createInstance',
    );
    const waitInstance = new sfn.Wait(this, S.waitInstance, { time: sfn.WaitTime.duration(pollInterval) });
    const describeInstance = catchInto(
      this.rds(S.describeInstance, 'describeDBInstances', { DbInstanceIdentifier: cloneId }, [this.cloneInstanceArns], '$.clone.instanceStatus', { status: sfn.JsonPath.stringAt('$.DbInstances[0].DbInstanceStatus') }),
      'describeInstance',
    );
    const countInstance = new sfn.Pass(this, S.countInstance, { parameters: { 'value.$': 'States.MathAdd($.clone.instancePolls, 1)' }, resultPath: '$.clone.pollCount' });

    const startRun = new sfn.Pass(this, S.startRun, { result: sfn.Result.fromObject({ runId: null }), resultPath: '$.run' });
    const migrate = catchInto(
      this.lambdaTask(S.migrate, props.migrate, { runId: sfn.JsonPath.stringAt('$.run.runId'), rehearsalClusterArn: sfn.JsonPath.stringAt('$.clone.cluster.arn') }, '$.run'),
      'migrate',
    );
    // The clone is this execution's alone, but a freshly resumed instance can answer slowly.
    migrate.addRetry({ errors: ['LeaseHeldError', 'LeaseLostError', 'OutcomeUnknownError'], interval: Duration.seconds(30), maxAttempts: 3, backoffRate: 2 });
    const record = catchInto(
      this.lambdaTask(S.record, this.function, { action: 'record', clusterArn: sfn.JsonPath.stringAt('$.clone.cluster.arn'), runId: sfn.JsonPath.stringAt('$.run.runId') }, '$.record'),
      'record',
    );
    record.next(cleanup);
    const pause = new sfn.Wait(this, S.pause, { time: sfn.WaitTime.duration(props.advanceInterval ?? Duration.seconds(10)) });
    const runStatus = new sfn.Choice(this, S.runStatus)
      .when(sfn.Condition.or(sfn.Condition.stringEquals('$.run.status', RunStatus.inProgress), sfn.Condition.stringEquals('$.run.status', RunStatus.interrupted)), pause.next(migrate))
      // Done or failed: record what was measured (a failed run's finished builds too), then clean up.
      .otherwise(record);
    const run = startRun.next(migrate).next(runStatus);

    const instanceReady = new sfn.Choice(this, S.instanceReady)
      .when(sfn.Condition.stringEquals('$.clone.instanceStatus.status', 'available'), run)
      .when(sfn.Condition.numberGreaterThanEquals('$.clone.instancePolls', maxPolls), neverReady(S.instanceNeverReady, 'instance', 'instancePolls'))
      .otherwise(waitInstance);
    waitInstance.next(describeInstance).next(countInstance).next(storeCount('Store instance checks', 'instancePolls')).next(instanceReady);

    const clusterReady = new sfn.Choice(this, S.clusterReady)
      .when(sfn.Condition.stringEquals('$.clone.clusterStatus.status', 'available'), enableDataApi.next(createInstance).next(waitInstance))
      .when(sfn.Condition.numberGreaterThanEquals('$.clone.polls', maxPolls), neverReady(S.clusterNeverReady, 'clone', 'polls'))
      .otherwise(waitCluster);
    waitCluster.next(describeCluster).next(countCluster).next(storeCount('Store clone checks', 'polls')).next(clusterReady);

    return plan.next(
      new sfn.Choice(this, S.pending)
        .when(sfn.Condition.numberEquals('$.plan.pending', 0), new sfn.Succeed(this, S.nothingPending))
        .otherwise(nameClone.next(restore).next(waitCluster)),
    );
  }
}

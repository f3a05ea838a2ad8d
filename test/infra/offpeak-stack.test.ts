import { App } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { clusterLocation, DEFAULT_SETTINGS, judgePlaceholder, settingsFromContext, validateSettings } from '../../infra/config.ts';
import { resolveHealthOptions } from '../../lambdas/core/health/options.ts';
import { FINDING_KINDS } from '../../lambdas/core/health/report.ts';
import { planEventSchema } from '../../lambdas/handlers/schemas.ts';
import { indexPrefix as runtimeIndexPrefix, unusedDays as runtimeUnusedDays } from '../../lambdas/runtime/config.ts';
import { snapshotRetentionFor } from '../../lambdas/runtime/setting-rules.ts';
import { StateName } from '../../infra/constructs/migration-runner.ts';
import { EnvName } from '../../lambdas/runtime/env-names.ts';
import { synthOffpeak, TEST_SETTINGS, type Synthesized } from './synth.ts';
import {
  render,
  resourceNamed,
  resourcesOf,
  stateMachineDefinition,
  statementsOfRole,
  transitions,
  type Statement,
} from './template-helpers.ts';

const CLUSTER = TEST_SETTINGS.clusterArn;
const DB_SECRET = TEST_SETTINGS.secretArn;
const SLACK_SECRET = TEST_SETTINGS.slackWebhookSecretArn!;
const SNAPSHOTS = 'arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:offpeak-*';
const CLONES = 'arn:aws:rds:eu-west-1:111122223333:cluster:offpeak-rehearsal-*';
const CLONE_INSTANCES = 'arn:aws:rds:eu-west-1:111122223333:db:offpeak-rehearsal-*';
const DATA_API_ACTIONS = [
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:ExecuteStatement',
  'rds-data:RollbackTransaction',
];

let synth: Synthesized;
beforeAll(() => {
  synth = synthOffpeak();
});

const fn = (prefix: string) => resourceNamed(synth.template, 'AWS::Lambda::Function', prefix);
const roleOf = (prefix: string) => render(fn(prefix).props['Role']).replace(/^<(.*)\.Arn>$/, '$1');
const logGroupOf = (prefix: string) => resourceNamed(synth.template, 'AWS::Logs::LogGroup', prefix).id;

function databaseStatements(logs: string): Statement[] {
  return [
    { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`<${logs}.Arn>`] },
    { actions: DATA_API_ACTIONS, resources: [CLUSTER] },
    { actions: ['secretsmanager:GetSecretValue'], resources: [DB_SECRET] },
  ];
}
const sortStatements = (xs: Statement[]) => [...xs].sort((a, b) => a.actions.join().localeCompare(b.actions.join()));

describe('cdk-nag', () => {
  it('finds nothing unacknowledged under AwsSolutions', () => {
    // Assess: synth throws on any unacknowledged finding; synthOffpeak collects the message.
    expect(synth.nagErrors).toEqual([]);
  });

  it('fails the synth on a finding nobody acknowledged', () => {
    // An SQS queue with neither TLS enforcement nor a DLQ trips AwsSolutions-SQS3/SQS4.
    const { nagErrors } = synthOffpeak(TEST_SETTINGS, (stack) => new sqs.Queue(stack, 'Unreviewed'));
    const report = nagErrors.join('\n');
    expect(report).toMatch(/AwsSolutions-SQS4/);
    expect(report).toMatch(/OffpeakTest\/Unreviewed\/Resource/);
  });
});

describe('outputs', () => {
  it('names the rollback function, the state machine and the topic for operators', () => {
    const outputs = synth.template.toJSON()['Outputs'] as Record<string, { Value: unknown }>;
    expect(render(outputs['RollbackFunctionName']!.Value)).toBe(`<${fn('MigrationsRollback').id}>`);
    expect(render(outputs['WindowRunStateMachineArn']!.Value)).toBe(`<${resourceNamed(synth.template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun').id}>`);
    expect(render(outputs['AlertsTopicArn']!.Value)).toBe(`<${resourceNamed(synth.template, 'AWS::SNS::Topic', 'AlertsTopic').id}>`);
  });
});

describe('functions', () => {
  const names = ['MigrationsPlan', 'MigrationsMigrate', 'MigrationsRollback', 'IndexHealthAnalyze', 'IndexHealthIndexReport', 'AlertsSlackNotify'];

  it('run nodejs24.x on arm64 with the bundled ESM entry, source maps and a bounded timeout', () => {
    for (const name of names) {
      const props = fn(name).props;
      expect(props['Runtime'], name).toBe('nodejs24.x');
      expect(props['Architectures'], name).toEqual(['arm64']);
      expect(props['Handler'], name).toBe('index.handler');
      expect(props['Timeout'] as number, name).toBeLessThanOrEqual(900);
      expect((props['Environment'] as { Variables: Record<string, string> }).Variables['NODE_OPTIONS'], name).toBe('--enable-source-maps');
      expect(props['LoggingConfig'], name).toMatchObject({ LogFormat: 'JSON' });
    }
    expect(fn('MigrationsMigrate').props['Timeout']).toBe(900);
  });

  it('log to their own group, kept three months', () => {
    for (const name of names) {
      const logGroup = render((fn(name).props['LoggingConfig'] as { LogGroup: unknown }).LogGroup);
      expect(logGroup).toBe(`<${logGroupOf(name)}>`);
      expect(resourceNamed(synth.template, 'AWS::Logs::LogGroup', name).props['RetentionInDays']).toBe(90);
    }
  });

  it('get the database, window and topic settings through the shared variable names, and never the local endpoint', () => {
    const env = (name: string) => (fn(name).props['Environment'] as { Variables: Record<string, unknown> }).Variables;
    const database = {
      [EnvName.clusterArn]: CLUSTER,
      [EnvName.secretArn]: DB_SECRET,
      [EnvName.databaseName]: 'shop',
      [EnvName.ledgerSchema]: 'offpeak',
    };
    expect(env('MigrationsMigrate')).toMatchObject({ ...database, [EnvName.windowMinutes]: '90', POWERTOOLS_SERVICE_NAME: 'offpeak-migrate', POWERTOOLS_METRICS_NAMESPACE: 'Offpeak' });
    expect(env('MigrationsPlan')).toMatchObject({ ...database, [EnvName.windowMinutes]: '90' });
    expect(env('MigrationsRollback')).toMatchObject(database);
    expect(env('IndexHealthAnalyze')).toMatchObject({ ...database, [EnvName.indexPrefix]: 'idx_' });
    expect(env('IndexHealthIndexReport')).toMatchObject({ ...database, [EnvName.indexPrefix]: 'idx_', [EnvName.unusedDays]: '14' });
    expect(render(env('IndexHealthIndexReport')[EnvName.topicArn])).toMatch(/^<AlertsTopic/);
    expect(env('AlertsSlackNotify')).toMatchObject({ [EnvName.slackWebhookSecretArn]: SLACK_SECRET });
    expect(env('AlertsSlackNotify')[EnvName.clusterArn]).toBeUndefined();
    for (const name of names) expect(env(name)[EnvName.dataApiEndpoint], name).toBeUndefined();
  });
});

describe('IAM', () => {
  it('gives each function exactly its own statements', () => {
    const asyncQueue = { actions: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], resources: [`<${resourceNamed(synth.template, 'AWS::SQS::Queue', 'AsyncFailureQueue').id}.Arn>`] };
    // plan also reads the writer's FreeLocalStorage for pre-flight: GetMetricData has no resource-level permissions.
    expect(statementsOfRole(synth.template, roleOf('MigrationsPlan'))).toEqual(
      sortStatements([...databaseStatements(logGroupOf('MigrationsPlan')), { actions: ['cloudwatch:GetMetricData'], resources: ['*'] }]),
    );
    // migrate also runs a rehearsal's plan on a clone: the Data API on offpeak-rehearsal-* clusters, nothing else.
    const onClones = { actions: DATA_API_ACTIONS, resources: [CLONES] };
    expect(statementsOfRole(synth.template, roleOf('MigrationsMigrate'))).toEqual(sortStatements([...databaseStatements(logGroupOf('MigrationsMigrate')), onClones]));
    expect(statementsOfRole(synth.template, roleOf('MigrationsRollback'))).toEqual(sortStatements(databaseStatements(logGroupOf('MigrationsRollback'))));
    expect(statementsOfRole(synth.template, roleOf('DoctorFunction'))).toEqual(sortStatements(databaseStatements(logGroupOf('DoctorFunction'))));
    expect(statementsOfRole(synth.template, roleOf('IndexHealthAnalyze'))).toEqual(sortStatements([...databaseStatements(logGroupOf('IndexHealthAnalyze')), asyncQueue]));
    const key = `<${resourceNamed(synth.template, 'AWS::KMS::Key', 'AlertsKey').id}.Arn>`;
    const topic = `<${resourceNamed(synth.template, 'AWS::SNS::Topic', 'AlertsTopic').id}>`;
    const publish = [
      { actions: ['sns:Publish'], resources: [topic] },
      { actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [key] },
    ];
    expect(statementsOfRole(synth.template, roleOf('IndexHealthIndexReport'))).toEqual(
      sortStatements([...databaseStatements(logGroupOf('IndexHealthIndexReport')), ...publish, asyncQueue]),
    );
    expect(statementsOfRole(synth.template, roleOf('MigrationsNotify'))).toEqual(
      sortStatements([{ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`<${logGroupOf('MigrationsNotify')}.Arn>`] }, ...publish]),
    );
    // alarm-notify publishes rendered alarms to the operator topic; its on-failure destination (the same topic)
    // publishes with this role too.
    expect(statementsOfRole(synth.template, roleOf('AlertsAlarmNotify'))).toEqual(
      sortStatements([{ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`<${logGroupOf('AlertsAlarmNotify')}.Arn>`] }, ...publish]),
    );
    expect(statementsOfRole(synth.template, roleOf('RehearsalFunction'))).toEqual(sortStatements([...databaseStatements(logGroupOf('RehearsalFunction')), onClones, ...publish]));
    expect(statementsOfRole(synth.template, roleOf('AlertsSlackNotify'))).toEqual(
      sortStatements([
        { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`<${logGroupOf('AlertsSlackNotify')}.Arn>`] },
        { actions: ['secretsmanager:GetSecretValue'], resources: [SLACK_SECRET] },
        asyncQueue,
      ]),
    );
  });

  it('lets the state machine invoke its three functions, snapshot (and tag, list, delete offpeak-* snapshots of) the cluster, log and trace, and nothing else', () => {
    const sm = resourceNamed(synth.template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun');
    const role = render(sm.props['RoleArn']).replace(/^<(.*)\.Arn>$/, '$1');
    const invoke = (name: string) => {
      const id = fn(name).id;
      return { actions: ['lambda:InvokeFunction'], resources: [`<${id}.Arn>`, `<${id}.Arn>:*`] };
    };
    const got = statementsOfRole(synth.template, role);
    expect(got).toEqual(
      expect.arrayContaining([
        invoke('MigrationsPlan'),
        invoke('MigrationsMigrate'),
        invoke('MigrationsNotify'),
        { actions: ['rds:CreateDBClusterSnapshot'], resources: [SNAPSHOTS, CLUSTER] },
        { actions: ['rds:AddTagsToResource'], resources: [SNAPSHOTS] },
        { actions: ['rds:DescribeDBClusterSnapshots'], resources: [SNAPSHOTS] },
        { actions: ['rds:DescribeDBClusterSnapshots'], resources: [SNAPSHOTS, CLUSTER] },
        { actions: ['rds:DeleteDBClusterSnapshot'], resources: [SNAPSHOTS] },
      ]),
    );
    // Nothing but invoke, the snapshot family, and the logs/X-Ray statements AWS requires on "*".
    for (const st of got) expect(st.actions.every((a) => /^(lambda:InvokeFunction|rds:\w+|logs:\w+|xray:\w+)$/.test(a)), st.actions.join()).toBe(true);
    expect(got.filter((st) => st.resources.includes('*')).map((st) => st.actions[0]!.split(':')[0]).sort()).toEqual(['logs', 'xray']);
  });

  it('uses Resource "*" nowhere except the Step Functions logging and X-Ray statements (window run and rehearsal) and the plan function\'s GetMetricData', () => {
    const wildcard = Object.keys(resourcesOf(synth.template, 'AWS::IAM::Role')).flatMap((role) =>
      statementsOfRole(synth.template, role)
        .filter((s) => s.resources.includes('*'))
        .map((s) => s.actions[0]!.split(':')[0]),
    );
    expect(wildcard.sort()).toEqual(['cloudwatch', 'logs', 'logs', 'xray', 'xray']);
  });

  it('lets the rehearsal restore only from the cluster into offpeak-rehearsal-* and touch only offpeak-rehearsal-* clusters and instances', () => {
    const sm = resourceNamed(synth.template, 'AWS::StepFunctions::StateMachine', 'RehearsalStateMachine');
    const role = render(sm.props['RoleArn']).replace(/^<(.*)\.Arn>$/, '$1');
    const got = statementsOfRole(synth.template, role);
    const rdsStatements = got.filter((st) => st.actions.some((a) => a.startsWith('rds:')));
    expect(sortStatements(rdsStatements)).toEqual(
      sortStatements([
        { actions: ['rds:RestoreDBClusterToPointInTime'], resources: [CLONES, CLUSTER] },
        // Tags on create (offpeak=rehearsal) need the tagging action on what is created.
        { actions: ['rds:AddTagsToResource'], resources: [CLONES] },
        { actions: ['rds:AddTagsToResource'], resources: [CLONE_INSTANCES] },
        { actions: ['rds:DescribeDBClusters'], resources: [CLONES] },
        { actions: ['rds:EnableHttpEndpoint'], resources: [CLONES] },
        { actions: ['rds:CreateDBInstance'], resources: [CLONES, CLONE_INSTANCES] },
        { actions: ['rds:DescribeDBInstances'], resources: [CLONE_INSTANCES] },
        { actions: ['rds:DeleteDBInstance'], resources: [CLONE_INSTANCES] },
        { actions: ['rds:DeleteDBCluster'], resources: [CLONES] },
      ]),
    );
    for (const st of got) expect(st.actions.every((a) => /^(lambda:InvokeFunction|rds:\w+|logs:\w+|xray:\w+)$/.test(a)), st.actions.join()).toBe(true);
  });

  it('lets each schedule start only its target and write only to the DLQ', () => {
    const dlq = `<${resourceNamed(synth.template, 'AWS::SQS::Queue', 'ScheduleDeadLetterQueue').id}.Arn>`;
    const schedules = resourcesOf(synth.template, 'AWS::Scheduler::Schedule');
    const targets = Object.values(schedules).map((s) => {
      const target = s.Properties['Target'] as { Arn: unknown; RoleArn: unknown };
      const role = render(target.RoleArn).replace(/^<(.*)\.Arn>$/, '$1');
      return { target: render(target.Arn), statements: statementsOfRole(synth.template, role) };
    });
    for (const { target, statements } of targets) {
      const invoke = target.endsWith('.Arn>')
        ? { actions: ['lambda:InvokeFunction'], resources: [target, `${target}:*`] }
        : { actions: ['states:StartExecution'], resources: [target] };
      expect(statements).toEqual(sortStatements([invoke, { actions: ['sqs:SendMessage'], resources: [dlq] }]));
    }
  });
});

describe('schedules', () => {
  const schedule = (prefix: string) => resourceNamed(synth.template, 'AWS::Scheduler::Schedule', prefix).props;
  const dlq = () => ({ 'Fn::GetAtt': [resourceNamed(synth.template, 'AWS::SQS::Queue', 'ScheduleDeadLetterQueue').id, 'Arn'] });

  it('opens the migration window on the off-peak cron in its time zone, starting the state machine with the scheduled time', () => {
    const props = schedule('MigrationsWindowSchedule');
    expect(props['ScheduleExpression']).toBe('cron(0 2 ? * MON-FRI *)');
    expect(props['ScheduleExpressionTimezone']).toBe('Europe/Moscow');
    expect(props['FlexibleTimeWindow']).toEqual({ Mode: 'OFF' });
    const target = props['Target'] as Record<string, unknown>;
    expect(render(target['Arn'])).toBe(`<${resourceNamed(synth.template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun').id}>`);
    expect(JSON.parse(target['Input'] as string)).toEqual({ source: 'schedule', scheduledTime: '<aws.scheduler.scheduled-time>' });
    expect(target['RetryPolicy']).toEqual({ MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 });
    expect(target['DeadLetterConfig']).toEqual({ Arn: dlq() });
  });

  it('runs the nightly ANALYZE and then the report in the same time zone, each with retries and the DLQ', () => {
    for (const [prefix, cron, fnPrefix] of [
      ['IndexHealthAnalyzeSchedule', 'cron(15 1 * * ? *)', 'IndexHealthAnalyze'],
      ['IndexHealthReportSchedule', 'cron(45 1 * * ? *)', 'IndexHealthIndexReport'],
    ] as const) {
      const props = schedule(prefix);
      expect(props['ScheduleExpression']).toBe(cron);
      expect(props['ScheduleExpressionTimezone']).toBe('Europe/Moscow');
      const target = props['Target'] as Record<string, unknown>;
      expect(render(target['Arn'])).toBe(`<${fn(fnPrefix).id}.Arn>`);
      expect(target['RetryPolicy']).toEqual({ MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 });
      expect(target['DeadLetterConfig']).toEqual({ Arn: dlq() });
    }
  });

  it('keeps the DLQ encrypted, TLS-only and for 14 days', () => {
    const queue = resourceNamed(synth.template, 'AWS::SQS::Queue', 'ScheduleDeadLetterQueue');
    expect(queue.props).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    synth.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queue.id }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });
});

describe('alerts', () => {
  it('encrypts the topic with a rotating customer-managed key that CloudWatch alarms may use', () => {
    const key = resourceNamed(synth.template, 'AWS::KMS::Key', 'AlertsKey');
    expect(key.props['EnableKeyRotation']).toBe(true);
    const topic = resourceNamed(synth.template, 'AWS::SNS::Topic', 'AlertsTopic');
    expect(topic.props['KmsMasterKeyId']).toEqual({ 'Fn::GetAtt': [key.id, 'Arn'] });
    const statements = (key.props['KeyPolicy'] as { Statement: Array<Record<string, unknown>> }).Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
  });

  it('subscribes every alert email and the slack-notify function to the operator topic, and only alarm-notify to the alarm topic', () => {
    const operator = `<${resourceNamed(synth.template, 'AWS::SNS::Topic', 'AlertsTopic').id}>`;
    const alarmTopic = `<${resourceNamed(synth.template, 'AWS::SNS::Topic', 'AlertsAlarmTopic').id}>`;
    const subs = Object.values(resourcesOf(synth.template, 'AWS::SNS::Subscription')).map((s) => ({
      topic: render(s.Properties['TopicArn']),
      protocol: s.Properties['Protocol'],
      endpoint: render(s.Properties['Endpoint']),
    }));
    expect(subs).toEqual(
      expect.arrayContaining([
        { topic: operator, protocol: 'email', endpoint: 'dba@example.com' },
        { topic: operator, protocol: 'email', endpoint: 'oncall@example.com' },
        { topic: operator, protocol: 'lambda', endpoint: `<${fn('AlertsSlackNotify').id}.Arn>` },
        { topic: alarmTopic, protocol: 'lambda', endpoint: `<${fn('AlertsAlarmNotify').id}.Arn>` },
      ]),
    );
    expect(subs).toHaveLength(4);
    // A delivery SNS cannot make to alarm-notify lands in the alarmed async-failure queue.
    const alarmSub = Object.values(resourcesOf(synth.template, 'AWS::SNS::Subscription')).find((s) => render(s.Properties['TopicArn']) === alarmTopic)!;
    expect(render((alarmSub.Properties['RedrivePolicy'] as { deadLetterTargetArn: unknown }).deadLetterTargetArn)).toBe(`<${resourceNamed(synth.template, 'AWS::SQS::Queue', 'AsyncFailureQueue').id}.Arn>`);
  });

  it('has one alarm per kind of trouble nothing else reports, each publishing to the topic', () => {
    const alarms = Object.entries(resourcesOf(synth.template, 'AWS::CloudWatch::Alarm'));
    const ids = alarms.map(([id]) => id.replace(/^Alerts/, '').replace(/[0-9A-F]{8}$/, '')).sort();
    expect(ids).toEqual(
      ['AsyncInvocationsFailed', 'NightlyAnalyzeMissing', 'NightlyReportMissing', 'NoticesNotSent', 'RollbackFailed', 'RunUnfinished', 'ScheduleUndelivered', 'WindowRunFailures', 'WindowRunsFailed'].sort(),
    );
    const byId = (name: string) => alarms.find(([id]) => id.startsWith(`Alerts${name}`))![1].Properties;
    // Silence: 26 one-hour periods, every one empty, missing data breaching.
    expect(byId('NightlyAnalyzeMissing')).toMatchObject({ MetricName: 'NightlyAnalyzeCompleted', Period: 3600, EvaluationPeriods: 26, DatapointsToAlarm: 26, TreatMissingData: 'breaching', ComparisonOperator: 'LessThanThreshold', Threshold: 1 });
    expect(byId('NightlyReportMissing')).toMatchObject({ MetricName: 'ReportsPublished', TreatMissingData: 'breaching', EvaluationPeriods: 26 });
    expect(byId('RunUnfinished')).toMatchObject({ MetricName: 'UnfinishedRunWindows', Threshold: 3, ComparisonOperator: 'GreaterThanThreshold' });
    // A rollback typo is a ValidationError before anything runs: only a failed confirmed rollback counts.
    expect(byId('RollbackFailed')).toMatchObject({ MetricName: 'RunsFailed', Dimensions: [{ Name: 'service', Value: 'offpeak-rollback' }] });
    // No alarm on the migrate function's errors: a held lease is retried, a failed run is one notice.
    const errorAlarmsOn = alarms.flatMap(([, a]) => ((a.Properties['Metrics'] as Array<{ MetricStat?: { Metric: { MetricName: string; Dimensions?: Array<{ Value: unknown }> } } }>) ?? []))
      .filter((m) => m.MetricStat?.Metric.MetricName === 'Errors')
      .map((m) => render(m.MetricStat!.Metric.Dimensions![0]!.Value));
    expect(errorAlarmsOn).toEqual([`<${fn('MigrationsNotify').id}>`]);
    // Runs failed: an alarm on the migrate function's RunsFailed metric, without an action, since the
    // run_failed notice is the one message about a failed run (and WindowRunFailures covers a lost one).
    expect(byId('WindowRunsFailed')).toMatchObject({ MetricName: 'RunsFailed', Namespace: 'Offpeak', Dimensions: [{ Name: 'service', Value: 'offpeak-migrate' }], Statistic: 'Sum', Threshold: 1 });
    expect(byId('WindowRunsFailed')['AlarmActions'] ?? []).toEqual([]);
    expect(byId('WindowRunsFailed')['AlarmDescription']).toMatch(/no action: the run_failed notice/);
    const wr = byId('WindowRunFailures')['Metrics'] as Array<{ MetricStat?: { Metric: { MetricName: string } } }>;
    expect(wr.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : [])).sort()).toEqual(['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
  });

  /**
   * From an alarm's topic on: the topic is the internal alarm topic, whose only subscriber is a function
   * that SNS may invoke from it, whose role may publish (and encrypt) to the operator topic, whose raw-alarm
   * fallback (its on-failure destination) is that same topic, and that topic reaches people (emails).
   */
  function alarmDeliveryProblems(t: Template, alarmTopicId: string): string[] {
    const problems: string[] = [];
    const subs = Object.values(resourcesOf(t, 'AWS::SNS::Subscription')).filter((sub) => render(sub.Properties['TopicArn']) === `<${alarmTopicId}>`);
    if (subs.some((sub) => sub.Properties['Protocol'] === 'email')) problems.push('alarm topic has email subscribers: they would get the raw alarm');
    const renderers = subs.filter((sub) => sub.Properties['Protocol'] === 'lambda');
    if (renderers.length !== 1) return [...problems, `alarm topic has ${renderers.length} function subscribers, expected the one renderer`];
    const fnId = render(renderers[0]!.Properties['Endpoint']).replace(/^<(.*)\.Arn>$/, '$1');
    const invokable = Object.values(resourcesOf(t, 'AWS::Lambda::Permission')).some(
      (p) => render(p.Properties['FunctionName']) === `<${fnId}.Arn>` && p.Properties['Principal'] === 'sns.amazonaws.com' && render(p.Properties['SourceArn']) === `<${alarmTopicId}>`,
    );
    if (!invokable) problems.push(`SNS may not invoke ${fnId} from the alarm topic`);
    const fnProps = resourcesOf(t, 'AWS::Lambda::Function')[fnId]!.Properties;
    const statements = statementsOfRole(t, render(fnProps['Role']).replace(/^<(.*)\.Arn>$/, '$1'));
    const operator = resourceNamed(t, 'AWS::SNS::Topic', 'AlertsTopic');
    if (!statements.some((st) => st.actions.includes('sns:Publish') && st.resources.includes(`<${operator.id}>`))) problems.push(`${fnId} may not publish to the operator topic`);
    const operatorKey = render(operator.props['KmsMasterKeyId']);
    if (!statements.some((st) => st.actions.includes('kms:GenerateDataKey') && st.resources.includes(operatorKey))) problems.push(`${fnId} may not encrypt for the operator topic`);
    const invokeConfig = Object.values(resourcesOf(t, 'AWS::Lambda::EventInvokeConfig')).find((c) => render(c.Properties['FunctionName']) === `<${fnId}>`);
    const fallback = invokeConfig && render((invokeConfig.Properties['DestinationConfig'] as { OnFailure?: { Destination: unknown } }).OnFailure?.Destination);
    if (fallback !== `<${operator.id}>`) problems.push(`${fnId}'s failures do not fall back to the operator topic (on failure: ${fallback ?? 'nothing'})`);
    const emails = Object.values(resourcesOf(t, 'AWS::SNS::Subscription')).filter((sub) => render(sub.Properties['TopicArn']) === `<${operator.id}>` && sub.Properties['Protocol'] === 'email');
    if (!emails.length) problems.push('the operator topic has no email subscriber');
    return problems;
  }

  /** Every reason an alarm of `t` would not reach the operators: alarm → action → topic → policies → renderer → operator topic. */
  function alarmRefusals(t: Template): string[] {
    const refused: string[] = [];
    const policies = Object.values(resourcesOf(t, 'AWS::SNS::TopicPolicy'));
    const keys = resourcesOf(t, 'AWS::KMS::Key');
    const topics = resourcesOf(t, 'AWS::SNS::Topic');
    type St = { Effect: string; Principal?: unknown; Action: string | string[]; Condition?: Record<string, Record<string, unknown>> };
    const actions = (st: St) => (Array.isArray(st.Action) ? st.Action : [st.Action]);
    const allowsCloudWatch = (st: St, action: RegExp, alarmArn: string) => {
      if (st.Effect !== 'Allow' || JSON.stringify(st.Principal) !== JSON.stringify({ Service: 'cloudwatch.amazonaws.com' })) return false;
      if (!actions(st).some((a) => action.test(a) || (a.endsWith('*') && action.test(a.slice(0, -1) + 'X')))) return false;
      const c = st.Condition ?? {};
      if (render(c['StringEquals']?.['aws:SourceAccount']) !== '<AWS::AccountId>') return false;
      const arns = [c['ArnEquals']?.['aws:SourceArn'], c['ArnLike']?.['aws:SourceArn']].flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])).map(render);
      return arns.some((arn) => arn === alarmArn || (arn.endsWith(':alarm:*') && alarmArn.startsWith('<')));
    };
    for (const [alarmId, alarm] of Object.entries(resourcesOf(t, 'AWS::CloudWatch::Alarm'))) {
      const alarmArn = `<${alarmId}.Arn>`;
      const alarmActions = (alarm.Properties['AlarmActions'] as unknown[] | undefined) ?? [];
      // Only an alarm that says why it has no action may have none.
      if (!alarmActions.length && !/\(no action: /.test(String(alarm.Properties['AlarmDescription']))) refused.push(`${alarmId}: no action`);
      for (const action of alarmActions) {
        const topicId = render(action).replace(/^<(.*)>$/, '$1');
        const topic = topics[topicId];
        if (!topic) { refused.push(`${alarmId}: action ${render(action)} is not a topic of this stack`); continue; }
        const statements = policies.filter((p) => (p.Properties['Topics'] as unknown[]).map(render).includes(`<${topicId}>`)).flatMap((p) => (p.Properties['PolicyDocument'] as { Statement: St[] }).Statement);
        if (!statements.some((st) => allowsCloudWatch(st, /^sns:Publish$/, alarmArn))) refused.push(`${alarmId}: topic policy refuses sns:Publish`);
        for (const deny of statements.filter((st) => st.Effect === 'Deny')) {
          // The only Deny allowed is the TLS one, which CloudWatch (always HTTPS) never trips.
          if (JSON.stringify(deny.Condition) !== JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } })) refused.push(`${alarmId}: topic policy denies: ${JSON.stringify(deny)}`);
        }
        const keyId = render(topic.Properties['KmsMasterKeyId']).replace(/^<(.*)\.Arn>$/, '$1');
        const keyStatements = (keys[keyId]!.Properties['KeyPolicy'] as { Statement: St[] }).Statement;
        for (const needed of [/^kms:GenerateDataKey/, /^kms:Decrypt$/]) {
          if (!keyStatements.some((st) => allowsCloudWatch(st, needed, alarmArn))) refused.push(`${alarmId}: key policy refuses ${needed.source}`);
        }
        for (const problem of alarmDeliveryProblems(t, topicId)) refused.push(`${alarmId}: ${problem}`);
      }
    }
    return refused;
  }

  it('lets every alarm publish: the topic policy and the topic key policy both allow CloudWatch for that alarm, and its topic leads to the operators', () => {
    expect(Object.keys(resourcesOf(synth.template, 'AWS::CloudWatch::Alarm')).length).toBeGreaterThan(5);
    expect(alarmRefusals(synth.template)).toEqual([]);
  });

  it('refuses an alarm whose topic would not let it publish (here: straight to the operator topic, which allows no alarm)', () => {
    const { template } = synthOffpeak(TEST_SETTINGS, (stack) => {
      stack.alerts.alarms[0]!.addAlarmAction(new cwActions.SnsAction(stack.alerts.topic));
    });
    const refusals = alarmRefusals(template);
    expect(refusals.some((r) => /topic policy refuses sns:Publish/.test(r))).toBe(true);
    expect(refusals.some((r) => /email subscribers: they would get the raw alarm/.test(r))).toBe(true);
  });
});

describe('window-run state machine', () => {
  it('is a traced Standard workflow logging everything', () => {
    const sm = resourceNamed(synth.template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun').props;
    expect(sm['StateMachineType']).toBe('STANDARD');
    expect(sm['TracingConfiguration']).toEqual({ Enabled: true });
    expect(sm['LoggingConfiguration']).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
  });

  it('plans, snapshots once per risky run, loops advance on its status and sends one notice per outcome', () => {
    const def = stateMachineDefinition(resourceNamed(synth.template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun').props);
    const S = StateName;
    expect(def.StartAt).toBe(S.plan);
    const edges = transitions(def);
    for (const edge of [
      `${S.plan} -[catch States.ALL]-> ${S.notifyFailure}`,
      `${S.migrate} -[catch States.ALL]-> ${S.notifyFailure}`,
      `${S.createSnapshot} -[catch States.ALL]-> ${S.notifyFailure}`,
      `${S.anythingPending} -[$.plan.pending NumericEquals 0]-> ${S.nothingPending}`,
      `${S.risky} -[$.plan.snapshotNeeded BooleanEquals true]-> ${S.createSnapshot}`,
      `${S.runStatus} -[$.run.status StringEquals "done"]-> ${S.notifyDone}`,
      `${S.runStatus} -[$.run.status StringEquals "window_closed"]-> ${S.notifyWindowClosed}`,
      `${S.runStatus} -[default]-> ${S.notifyFailure}`,
      `${S.notifyDone} -[catch States.ALL]-> ${S.doneNoticeLost}`,
      `${S.notifyWindowClosed} -[catch States.ALL]-> ${S.windowNoticeLost}`,
      `${S.notifyFailure} -[catch States.ALL]-> ${S.failed}`,
      `${S.notifyFailure} -> ${S.failedNotified}`,
      `${S.notifyDone} -> ${S.succeeded}`,
      `${S.doneNoticeLost} -> ${S.succeeded}`,
    ]) {
      expect(edges).toContain(edge);
    }
    expect(def.States[S.failed]!.Type).toBe('Fail');
    for (const s of [S.succeeded, S.pausedUntilNextWindow, S.nothingPending, S.failedNotified]) expect(def.States[s]!.Type, s).toBe('Succeed');
  });

  it('retries Lambda throttles and service errors and an unavailable database on every Lambda task', () => {
    const def = stateMachineDefinition(resourceNamed(synth.template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun').props);
    for (const name of [StateName.plan, StateName.migrate, StateName.notifyDone, StateName.notifyWindowClosed, StateName.notifyFailure]) {
      const retried = (def.States[name]!.Retry ?? []).flatMap((r) => r.ErrorEquals);
      expect(retried, name).toEqual(expect.arrayContaining(['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'DatabaseUnavailableError']));
      for (const r of def.States[name]!.Retry ?? []) expect(r.BackoffRate ?? 2, name).toBeGreaterThanOrEqual(1);
    }
  });

  it('passes the run id between advances and the window end from the plan', () => {
    const def = stateMachineDefinition(resourceNamed(synth.template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun').props);
    const S = StateName;
    expect(def.States[S.plan]!.Parameters).toEqual({ 'input.$': '$$.Execution.Input', 'startedAt.$': '$$.Execution.StartTime' });
    expect(def.States[S.startRun]).toMatchObject({ Type: 'Pass', Result: { runId: null }, ResultPath: '$.run' });
    expect(def.States[S.migrate]).toMatchObject({
      Resource: `<${fn('MigrationsMigrate').id}.Arn>`,
      Parameters: { 'runId.$': '$.run.runId', 'windowEndsAt.$': '$.plan.windowEndsAt' },
      ResultPath: '$.run',
    });
    // a held lease (another run, or a crashed one's, which expires on its own) is waited out, not failed on
    expect(def.States[S.migrate]!.Retry).toContainEqual({ ErrorEquals: ['LeaseHeldError'], IntervalSeconds: 60, MaxAttempts: 5, BackoffRate: 1 });
    // the engine's "stopped, resumable" errors: the next advance resumes from the ledger
    expect(def.States[S.migrate]!.Retry).toContainEqual({ ErrorEquals: ['LeaseLostError', 'OutcomeUnknownError'], IntervalSeconds: 30, MaxAttempts: 3, BackoffRate: 2 });
    expect(def.States[S.pause]).toMatchObject({ Type: 'Wait', Seconds: 10 });
    // in_progress and an interrupted advance (the engine's early stop) both loop to the next advance
    const loop = (def.States[S.runStatus]!.Choices ?? []).find((c) => c.Next === S.pause) as unknown as { Or: Array<{ StringEquals: string }> };
    expect(loop.Or.map((c) => c.StringEquals).sort()).toEqual(['in_progress', 'interrupted']);
  });

  it('hands every notice to the notify function with the whole state', () => {
    const def = stateMachineDefinition(resourceNamed(synth.template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun').props);
    for (const [name, kind] of [[StateName.notifyDone, 'run_done'], [StateName.notifyWindowClosed, 'window_closed'], [StateName.notifyFailure, 'run_failed']] as const) {
      expect(def.States[name], name).toMatchObject({
        Resource: `<${fn('MigrationsNotify').id}.Arn>`,
        Parameters: { kind, 'stateMachineArn.$': '$$.StateMachine.Id', 'state.$': '$' },
      });
    }
  });

  it('snapshots the configured cluster through the AWS SDK integration under a unique offpeak- name', () => {
    const def = stateMachineDefinition(resourceNamed(synth.template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun').props);
    expect(def.States[StateName.createSnapshot]).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::aws-sdk:rds:createDBClusterSnapshot',
      Parameters: { DbClusterIdentifier: 'shop-db', 'DbClusterSnapshotIdentifier.$': "States.Format('offpeak-{}', States.UUID())" },
    });
    expect(def.States[StateName.describeSnapshot]).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::aws-sdk:rds:describeDBClusterSnapshots',
      Parameters: { 'DbClusterSnapshotIdentifier.$': '$.snapshot.id' },
    });
  });

  it('leaves the snapshot out when snapshots are disabled', () => {
    const { template, nagErrors } = synthOffpeak({ ...TEST_SETTINGS, snapshotBeforeRiskyMigrations: false, slackWebhookSecretArn: undefined, alertEmails: [] });
    const def = stateMachineDefinition(resourceNamed(template, 'AWS::StepFunctions::StateMachine', 'MigrationsWindowRun').props);
    expect(Object.keys(def.States)).not.toContain(StateName.createSnapshot);
    expect(transitions(def)).toContain(`${StateName.anythingPending} -[default]-> ${StateName.startRun}`);
    // No emails, no Slack: only alarm-notify's subscription to the alarm topic.
    expect(Object.values(resourcesOf(template, 'AWS::SNS::Subscription')).map((sub) => render(sub.Properties['Endpoint']))).toEqual([`<${resourceNamed(template, 'AWS::Lambda::Function', 'AlertsAlarmNotify').id}.Arn>`]);
    expect(nagErrors).toEqual([]);
  });
});

describe('dashboard', () => {
  it('graphs runs, durations and findings by kind from the handlers\' EMF metrics', () => {
    const body = render(resourceNamed(synth.template, 'AWS::CloudWatch::Dashboard', 'Operations').props['DashboardBody']);
    const dashboard = JSON.parse(body) as { widgets: Array<{ properties: { title: string; metrics: unknown[][] } }> };
    const titles = dashboard.widgets.map((w) => w.properties.title);
    expect(titles).toEqual(['Window runs', 'Window run duration', 'Migrations', 'Handler durations (p90)', 'Index-health findings by kind', 'Alarms']);
    // Every alarm's state, the action-less WindowRunsFailed included.
    const alarmWidget = dashboard.widgets.find((w) => w.properties.title === 'Alarms')!.properties as unknown as { alarms: string[] };
    expect(alarmWidget.alarms).toHaveLength(Object.keys(resourcesOf(synth.template, 'AWS::CloudWatch::Alarm')).length);
    expect(alarmWidget.alarms.some((arn) => arn.includes('WindowRunsFailed'))).toBe(true);
    const findings = dashboard.widgets.find((w) => w.properties.title === 'Index-health findings by kind')!.properties.metrics;
    const kinds = findings.map((m) => m[m.indexOf('kind') + 1]);
    expect(kinds).toEqual([...FINDING_KINDS]);
    expect(findings[0]!.slice(0, 2)).toEqual(['Offpeak', 'Findings']);
  });
});

describe('settings from context', () => {
  it('has placeholder defaults so synth needs no context', () => {
    expect(settingsFromContext(new App())).toEqual(DEFAULT_SETTINGS);
  });

  it('reads every setting from context, emails as a comma list', () => {
    const app = new App({
      context: {
        clusterArn: CLUSTER,
        secretArn: DB_SECRET,
        databaseName: 'shop',
        windowCron: 'cron(30 3 ? * SAT *)',
        timeZone: 'Asia/Tokyo',
        windowMinutes: '45',
        alertEmails: 'a@example.com, b@example.com',
        snapshotBeforeRiskyMigrations: 'false',
      },
    });
    expect(settingsFromContext(app)).toMatchObject({
      clusterArn: CLUSTER,
      windowCron: 'cron(30 3 ? * SAT *)',
      timeZone: 'Asia/Tokyo',
      windowMinutes: 45,
      alertEmails: ['a@example.com', 'b@example.com'],
      snapshotBeforeRiskyMigrations: false,
    });
  });

  it('names the bad setting', () => {
    expect(() => settingsFromContext(new App({ context: { clusterArn: 'shop-db' } }))).toThrow(/clusterArn "shop-db" is not an Aurora cluster ARN/);
    expect(() => settingsFromContext(new App({ context: { timeZone: 'Moscow' } }))).toThrow(/timeZone = "Moscow" is not valid: expected an IANA time zone/);
    expect(() => settingsFromContext(new App({ context: { windowMinutes: '0' } }))).toThrow(/windowMinutes must be a whole number/);
    expect(() => settingsFromContext(new App({ context: { alertEmails: 'dba' } }))).toThrow(/"dba" is not an email address/);
    expect(() => synthOffpeak({ ...TEST_SETTINGS, windowCron: '0 2 * * 1-5' })).toThrow(/not an EventBridge Scheduler cron/);
  });
});

describe('refusing what cannot work', () => {
  it('synthesizes the placeholder with a warning, refuses it once an account is known, and refuses a cluster of another account', () => {
    expect(judgePlaceholder(DEFAULT_SETTINGS, undefined)).toMatchObject({ kind: 'warn' });
    expect(judgePlaceholder(DEFAULT_SETTINGS, '111122223333')).toEqual({ kind: 'error', message: expect.stringMatching(/no cluster configured for account 111122223333: pass -c clusterArn=/) });
    expect(judgePlaceholder(TEST_SETTINGS, '111122223333')).toEqual({ kind: 'ok' });
    expect(judgePlaceholder(TEST_SETTINGS, undefined)).toEqual({ kind: 'ok' });
    expect(judgePlaceholder(TEST_SETTINGS, '444455556666')).toEqual({ kind: 'error', message: expect.stringMatching(/is in account 111122223333, but the credentials are for 444455556666/) });
  });

  it('deploys where the cluster is: account and region come from its ARN', () => {
    expect(clusterLocation(CLUSTER)).toEqual({ partition: 'aws', region: 'eu-west-1', account: '111122223333' });
  });

  it('refuses a credentials secret in another account or region than the cluster', () => {
    expect(() => validateSettings({ ...TEST_SETTINGS, secretArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf' })).toThrow(
      /secretArn is in 111122223333\/us-east-1 but the cluster is in 111122223333\/eu-west-1/,
    );
  });

  it('checks every runtime setting with the rule the Lambdas use: what synthesizes is what they accept', () => {
    for (const unusedDays of [1, 14, 89, 90, 200, 365]) {
      expect(() => validateSettings({ ...TEST_SETTINGS, unusedDays })).not.toThrow();
      const env = { OFFPEAK_UNUSED_DAYS: String(unusedDays) };
      expect(runtimeUnusedDays(env)).toBe(unusedDays);
      // Retention follows the window, so the health options the handlers build are valid.
      expect(() => resolveHealthOptions({ unusedDays, retentionDays: snapshotRetentionFor(unusedDays) })).not.toThrow();
    }
    for (const unusedDays of [0, 366]) {
      expect(() => validateSettings({ ...TEST_SETTINGS, unusedDays })).toThrow(/unusedDays/);
      expect(() => runtimeUnusedDays({ OFFPEAK_UNUSED_DAYS: String(unusedDays) })).toThrow(/OFFPEAK_UNUSED_DAYS: unusedDays = "\d+" is not valid/);
    }
    expect(() => validateSettings({ ...TEST_SETTINGS, indexPrefix: 'Idx-' })).toThrow(/indexPrefix = "Idx-" is not valid/);
    expect(() => runtimeIndexPrefix({ OFFPEAK_INDEX_PREFIX: 'Idx-' })).toThrow(/indexPrefix = "Idx-" is not valid/);
  });

  it('gives analyze the unused window too (its snapshot retention follows it)', () => {
    const env = (fn('IndexHealthAnalyze').props['Environment'] as { Variables: Record<string, unknown> }).Variables;
    expect(env[EnvName.unusedDays]).toBe('14');
  });
});

describe('deployment hygiene', () => {
  it('logs the state machine under /aws/vendedlogs/states/', () => {
    const logs = resourceNamed(synth.template, 'AWS::Logs::LogGroup', 'MigrationsWindowRunLogs').props;
    expect(logs['LogGroupName']).toBe('/aws/vendedlogs/states/OffpeakTest-window-run');
  });

  it('defaults every schedule to UTC', () => {
    expect(DEFAULT_SETTINGS.timeZone).toBe('UTC');
    const { template } = synthOffpeak({ ...TEST_SETTINGS, timeZone: DEFAULT_SETTINGS.timeZone });
    for (const s of Object.values(resourcesOf(template, 'AWS::Scheduler::Schedule'))) expect(s.Properties['ScheduleExpressionTimezone']).toBe('UTC');
  });

  it('sends async failures of the nightly functions and slack-notify to the alarmed queue after two retries, and alarm-notify\'s raw alarm to the operator topic', () => {
    const queue = `<${resourceNamed(synth.template, 'AWS::SQS::Queue', 'AsyncFailureQueue').id}.Arn>`;
    const configs = Object.values(resourcesOf(synth.template, 'AWS::Lambda::EventInvokeConfig')).map((c) => ({
      fn: render(c.Properties['FunctionName']),
      retries: c.Properties['MaximumRetryAttempts'],
      onFailure: render((c.Properties['DestinationConfig'] as { OnFailure: { Destination: unknown } }).OnFailure.Destination),
    }));
    expect(configs.map((c) => c.fn).sort()).toEqual(['IndexHealthAnalyze', 'IndexHealthIndexReport', 'AlertsSlackNotify', 'AlertsAlarmNotify'].map((n) => `<${fn(n).id}>`).sort());
    for (const c of configs.filter((x) => x.fn !== `<${fn('AlertsAlarmNotify').id}>`)) expect(c).toMatchObject({ retries: 2, onFailure: queue });
    expect(configs.find((x) => x.fn === `<${fn('AlertsAlarmNotify').id}>`)).toMatchObject({ retries: 2, onFailure: `<${resourceNamed(synth.template, 'AWS::SNS::Topic', 'AlertsTopic').id}>` });
  });

  it('lets slack-notify decrypt its secret with a customer-managed key when one is given, only through Secrets Manager', () => {
    const key = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { template, nagErrors } = synthOffpeak({ ...TEST_SETTINGS, slackSecretKeyArn: key });
    expect(nagErrors).toEqual([]);
    const role = render(resourceNamed(template, 'AWS::Lambda::Function', 'AlertsSlackNotify').props['Role']).replace(/^<(.*)\.Arn>$/, '$1');
    const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).filter((p) => (p.Properties['Roles'] as unknown[]).map(render).includes(`<${role}>`));
    const statements = policies.flatMap((p) => (p.Properties['PolicyDocument'] as { Statement: Array<Record<string, unknown>> }).Statement);
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: 'kms:Decrypt', Resource: key, Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } } }),
    );
    expect(() => validateSettings({ ...TEST_SETTINGS, slackWebhookSecretArn: undefined, slackSecretKeyArn: key })).toThrow(/slackSecretKeyArn is set but slackWebhookSecretArn is not/);
  });

  it('grants only the four Data API calls offpeak makes (no BatchExecuteStatement)', () => {
    const all = Object.keys(resourcesOf(synth.template, 'AWS::IAM::Role')).flatMap((r) => statementsOfRole(synth.template, r).flatMap((s) => s.actions));
    expect(all).not.toContain('rds-data:BatchExecuteStatement');
  });

  it('runs the doctor after each deploy through a CDK trigger, unless switched off', () => {
    const triggers = Object.values(resourcesOf(synth.template, 'Custom::Trigger'));
    expect(triggers).toHaveLength(1);
    expect(render(triggers[0]!.Properties['HandlerArn'])).toMatch(new RegExp(`^<${fn('DoctorFunction').id.replace(/[0-9A-F]{8}$/, '')}.*Version`));
    const { template } = synthOffpeak({ ...TEST_SETTINGS, doctorOnDeploy: false });
    expect(Object.keys(resourcesOf(template, 'Custom::Trigger'))).toEqual([]);
    expect(settingsFromContext(new App({ context: { doctorOnDeploy: 'false' } })).doctorOnDeploy).toBe(false);
  });

  it('accepts a console "Start execution" with its default input', () => {
    expect(planEventSchema.safeParse({ input: { Comment: 'Insert your JSON here' }, startedAt: '2030-03-04T23:00:00Z' }).success).toBe(true);
  });
});

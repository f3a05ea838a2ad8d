import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { MetricName } from '../../lambdas/runtime/env-names.ts';
import type { OffpeakSettings } from '../config.ts';
import { Alerts, emfMetric } from '../constructs/alerts.ts';
import type { DatabaseTarget } from '../constructs/database-target.ts';
import { Doctor } from '../constructs/doctor.ts';
import { IndexHealthMonitor } from '../constructs/index-health-monitor.ts';
import { MigrationRunner } from '../constructs/migration-runner.ts';
import { serviceName, type OffpeakFunction } from '../constructs/offpeak-function.ts';
import { OperationsDashboard } from '../constructs/operations-dashboard.ts';
import { Rehearsal } from '../constructs/rehearsal.ts';

export interface OffpeakStackProps extends StackProps {
  settings: OffpeakSettings;
}

/** Hours without a nightly ANALYZE or report before the silence alarms fire: a day plus slack for a late start. */
export const NIGHTLY_SILENCE_HOURS = 26;

/** offpeak for one existing Aurora PostgreSQL cluster with the Data API enabled. */
export class OffpeakStack extends Stack {
  readonly alerts: Alerts;
  readonly runner: MigrationRunner;
  readonly monitor: IndexHealthMonitor;
  readonly scheduleDeadLetterQueue: sqs.Queue;
  readonly asyncFailureQueue: sqs.Queue;
  readonly dashboard: OperationsDashboard;
  readonly doctor: Doctor;
  readonly rehearsal: Rehearsal;

  constructor(scope: Construct, id: string, props: OffpeakStackProps) {
    super(scope, id, props);
    const s = props.settings;
    const database: DatabaseTarget = {
      clusterArn: s.clusterArn,
      secretArn: s.secretArn,
      databaseName: s.databaseName,
      ledgerSchema: s.ledgerSchema,
    };

    const queue = (queueId: string, reason: string) => {
      const q = new sqs.Queue(this, queueId, { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
      Validations.of(q).acknowledge({ id: 'AwsSolutions-SQS3', reason });
      return q;
    };
    this.scheduleDeadLetterQueue = queue(
      'ScheduleDeadLetterQueue',
      'This queue is itself the dead-letter queue of the EventBridge Scheduler schedules; an alarm on its depth notifies the alerts topic.',
    );
    this.asyncFailureQueue = queue(
      'AsyncFailureQueue',
      'This queue is itself the on-failure destination of the asynchronously invoked functions; an alarm on its depth notifies the alerts topic.',
    );

    this.alerts = new Alerts(this, 'Alerts', {
      emails: s.alertEmails,
      slackWebhookSecretArn: s.slackWebhookSecretArn,
      slackSecretKeyArn: s.slackSecretKeyArn,
      asyncFailureQueue: this.asyncFailureQueue,
    });

    this.monitor = new IndexHealthMonitor(this, 'IndexHealth', {
      database,
      topic: this.alerts.topic,
      topicKey: this.alerts.key,
      deadLetterQueue: this.scheduleDeadLetterQueue,
      asyncFailureQueue: this.asyncFailureQueue,
      analyzeCron: s.nightlyCron,
      reportCron: s.reportCron,
      timeZone: s.timeZone,
      indexPrefix: s.indexPrefix,
      unusedDays: s.unusedDays,
    });

    this.runner = new MigrationRunner(this, 'Migrations', {
      database,
      topic: this.alerts.topic,
      topicKey: this.alerts.key,
      deadLetterQueue: this.scheduleDeadLetterQueue,
      windowCron: s.windowCron,
      timeZone: s.timeZone,
      windowMinutes: s.windowMinutes,
      snapshotBeforeRiskyMigrations: s.snapshotBeforeRiskyMigrations,
      snapshotRetentionDays: s.snapshotRetentionDays,
      maxLoad: s.maxLoad,
      criticalLoad: s.criticalLoad,
    });

    this.doctor = new Doctor(this, 'Doctor', { database, runOnDeploy: s.doctorOnDeploy });

    // The pending plan on an Aurora fast clone, timed (docs/aws.md#rehearsal): on demand, or on rehearsalCron.
    this.rehearsal = new Rehearsal(this, 'Rehearsal', {
      database,
      plan: this.runner.plan,
      migrate: this.runner.migrate,
      topic: this.alerts.topic,
      topicKey: this.alerts.key,
      windowMinutes: s.windowMinutes,
      cron: s.rehearsalCron,
      timeZone: s.timeZone,
      deadLetterQueue: this.scheduleDeadLetterQueue,
      minCapacity: 0.5,
      maxCapacity: s.rehearsalMaxCapacity,
      subnetGroupName: s.rehearsalSubnetGroup,
    });

    // One alarm per kind of trouble nothing else reports; docs/aws.md#alarms says what each means.
    const a = this.alerts;
    a.alarmOnExecutionFailures('WindowRunFailures', this.runner.stateMachine);
    a.alarmOnErrors('NoticesNotSent', 'a window-run notice could not be published (the run itself is unaffected)', this.runner.notify.function);
    // Runs failed, as an alarm without an action: a failed window run already sends its run_failed notice
    // (or, when that notice cannot be sent, WindowRunFailures fires), so one failure stays one message.
    const windowRunsFailed = a.alarm({
      id: 'WindowRunsFailed',
      description: 'a window run failed (its run_failed notice is the message; this alarm keeps the state for the dashboard)',
      metric: emfMetric(MetricName.runsFailed, serviceName('migrate'), Duration.minutes(5), cloudwatch.Stats.SUM),
      silentBecause: 'the run_failed notice of the window run is the one message about it',
    });
    a.alarmOnMetric('RollbackFailed', 'a confirmed rollback failed part-way', { name: MetricName.runsFailed, service: serviceName('rollback') }, 1);
    a.alarmOnQueueDepth('ScheduleUndelivered', 'a schedule could not start its target after its retries', this.scheduleDeadLetterQueue);
    a.alarmOnQueueDepth('AsyncInvocationsFailed', 'a nightly job or a Slack post failed after Lambda retried it twice', this.asyncFailureQueue);
    a.alarmOnSilence('NightlyAnalyzeMissing', `no nightly ANALYZE completed in ${NIGHTLY_SILENCE_HOURS} hours`, { name: MetricName.nightlyAnalyzeCompleted, service: serviceName('analyze') }, NIGHTLY_SILENCE_HOURS);
    a.alarmOnSilence('NightlyReportMissing', `no index-health report published in ${NIGHTLY_SILENCE_HOURS} hours`, { name: MetricName.reportsPublished, service: serviceName('indexReport') }, NIGHTLY_SILENCE_HOURS);
    a.alarm({
      id: 'RunUnfinished',
      description: `a migration run has been unfinished for more than ${s.unfinishedRunWindows} windows`,
      metric: emfMetric(MetricName.unfinishedRunWindows, serviceName('plan'), Duration.days(1), cloudwatch.Stats.MAXIMUM),
      threshold: s.unfinishedRunWindows,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const functions: Record<string, OffpeakFunction> = {
      plan: this.runner.plan,
      migrate: this.runner.migrate,
      rollback: this.runner.rollback,
      notify: this.runner.notify,
      alarmNotify: this.alerts.alarmNotify,
      analyze: this.monitor.analyze,
      indexReport: this.monitor.indexReport,
      doctor: this.doctor.function,
      ...(this.alerts.slackNotify ? { slackNotify: this.alerts.slackNotify } : {}),
    };
    this.dashboard = new OperationsDashboard(this, 'Operations', { stateMachine: this.runner.stateMachine, functions });
    this.dashboard.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: [...a.alarms, windowRunsFailed] }));

    // What operators need after a deploy: `offpeak invoke rollback --function <RollbackFunctionName>`.
    new CfnOutput(this, 'RollbackFunctionName', { value: this.runner.rollback.function.functionName });
    new CfnOutput(this, 'DoctorFunctionName', { value: this.doctor.function.function.functionName });
    new CfnOutput(this, 'WindowRunStateMachineArn', { value: this.runner.stateMachine.stateMachineArn });
    new CfnOutput(this, 'RehearsalStateMachineArn', { value: this.rehearsal.stateMachine.stateMachineArn });
    new CfnOutput(this, 'AlertsTopicArn', { value: this.alerts.topic.topicArn });
  }
}

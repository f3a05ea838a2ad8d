import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { OffpeakSettings } from '../config.ts';
import { Alerts } from '../constructs/alerts.ts';
import type { DatabaseTarget } from '../constructs/database-target.ts';
import { IndexHealthMonitor } from '../constructs/index-health-monitor.ts';
import { MigrationRunner } from '../constructs/migration-runner.ts';
import type { OffpeakFunction } from '../constructs/offpeak-function.ts';
import { OperationsDashboard } from '../constructs/operations-dashboard.ts';

export interface OffpeakStackProps extends StackProps {
  settings: OffpeakSettings;
}

/** offpeak for one existing Aurora PostgreSQL cluster with the Data API enabled. */
export class OffpeakStack extends Stack {
  readonly alerts: Alerts;
  readonly runner: MigrationRunner;
  readonly monitor: IndexHealthMonitor;
  readonly scheduleDeadLetterQueue: sqs.Queue;
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: OffpeakStackProps) {
    super(scope, id, props);
    const s = props.settings;
    const database: DatabaseTarget = {
      clusterArn: s.clusterArn,
      secretArn: s.secretArn,
      databaseName: s.databaseName,
      ledgerSchema: s.ledgerSchema,
    };

    this.alerts = new Alerts(this, 'Alerts', { emails: s.alertEmails, slackWebhookSecretArn: s.slackWebhookSecretArn });

    this.scheduleDeadLetterQueue = new sqs.Queue(this, 'ScheduleDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.scheduleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the EventBridge Scheduler schedules; an alarm on its depth notifies the alerts topic.',
    });

    this.monitor = new IndexHealthMonitor(this, 'IndexHealth', {
      database,
      topic: this.alerts.topic,
      topicKey: this.alerts.key,
      deadLetterQueue: this.scheduleDeadLetterQueue,
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
      verifyFunction: this.monitor.analyze.function,
      windowCron: s.windowCron,
      timeZone: s.timeZone,
      windowMinutes: s.windowMinutes,
      snapshotBeforeRiskyMigrations: s.snapshotBeforeRiskyMigrations,
    });

    const functions: Record<string, OffpeakFunction> = {
      plan: this.runner.plan,
      migrate: this.runner.migrate,
      rollback: this.runner.rollback,
      analyze: this.monitor.analyze,
      indexReport: this.monitor.indexReport,
      ...(this.alerts.slackNotify ? { slackNotify: this.alerts.slackNotify } : {}),
    };
    for (const [name, fn] of Object.entries(functions)) this.alerts.alarmOnErrors(name, fn.function);
    this.alerts.alarmOnExecutionFailures('WindowRun', this.runner.stateMachine);
    this.alerts.alarmOnQueueDepth('ScheduleDeadLetterQueue', this.scheduleDeadLetterQueue);

    this.dashboard = new OperationsDashboard(this, 'Operations', { stateMachine: this.runner.stateMachine, functions });

    // What operators need after a deploy: `offpeak invoke rollback --function <RollbackFunctionName>`.
    new CfnOutput(this, 'RollbackFunctionName', { value: this.runner.rollback.function.functionName });
    new CfnOutput(this, 'WindowRunStateMachineArn', { value: this.runner.stateMachine.stateMachineArn });
    new CfnOutput(this, 'AlertsTopicArn', { value: this.alerts.topic.topicArn });
  }
}

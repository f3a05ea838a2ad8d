import { Duration, Stack } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EnvName } from '../../lambdas/runtime/env-names.ts';
import type { DatabaseTarget } from './database-target.ts';
import { OffpeakFunction } from './offpeak-function.ts';
import { OffpeakSchedule } from './offpeak-schedule.ts';
import { acknowledgeInvokeQualifiers } from '../nag.ts';

export interface IndexHealthMonitorProps {
  database: DatabaseTarget;
  topic: sns.ITopic;
  topicKey: kms.IKey;
  deadLetterQueue: sqs.IQueue;
  /** Where an invocation lands when it still fails after Lambda's async retries. */
  asyncFailureQueue: sqs.IQueue;
  /** When ANALYZE and the usage snapshot run, e.g. `cron(0 1 * * ? *)`. */
  analyzeCron: string;
  /** When the report is built and published; after the analyze job. */
  reportCron: string;
  timeZone: string;
  indexPrefix: string;
  unusedDays: number;
}

/**
 * The nightly jobs: ANALYZE + usage snapshot, then the index-health report
 * published to the alerts topic (email and Slack render it per protocol).
 */
export class IndexHealthMonitor extends Construct {
  readonly analyze: OffpeakFunction;
  readonly indexReport: OffpeakFunction;
  readonly analyzeSchedule: OffpeakSchedule;
  readonly reportSchedule: OffpeakSchedule;

  constructor(scope: Construct, id: string, props: IndexHealthMonitorProps) {
    super(scope, id);

    this.analyze = new OffpeakFunction(this, 'Analyze', {
      handler: 'analyze',
      description: 'offpeak nightly ANALYZE and index-usage snapshot',
      timeout: Duration.minutes(15),
    })
      .bindDatabase(props.database)
      .failAsyncInto(props.asyncFailureQueue);
    this.analyze.addEnvironment(EnvName.indexPrefix, props.indexPrefix);
    // The snapshot's retention follows the unused window, so analyze needs it too.
    this.analyze.addEnvironment(EnvName.unusedDays, String(props.unusedDays));

    this.indexReport = new OffpeakFunction(this, 'IndexReport', {
      handler: 'indexReport',
      description: 'offpeak nightly index-health report, published to the alerts topic',
      timeout: Duration.minutes(5),
    })
      .bindDatabase(props.database)
      .bindTopic(props.topic, props.topicKey)
      .failAsyncInto(props.asyncFailureQueue);
    this.indexReport.addEnvironment(EnvName.indexPrefix, props.indexPrefix);
    this.indexReport.addEnvironment(EnvName.unusedDays, String(props.unusedDays));

    const scheduledInput = scheduler.ScheduleTargetInput.fromObject({
      source: 'schedule',
      scheduledTime: scheduler.ContextAttribute.scheduledTime,
    });
    this.analyzeSchedule = new OffpeakSchedule(this, 'AnalyzeSchedule', {
      description: 'offpeak nightly ANALYZE and usage snapshot',
      cron: props.analyzeCron,
      timeZone: props.timeZone,
      deadLetterQueue: props.deadLetterQueue,
      target: (options) => new targets.LambdaInvoke(this.analyze.function, { ...options, input: scheduledInput }),
    });
    this.reportSchedule = new OffpeakSchedule(this, 'ReportSchedule', {
      description: 'offpeak nightly index-health report',
      cron: props.reportCron,
      timeZone: props.timeZone,
      deadLetterQueue: props.deadLetterQueue,
      target: (options) => new targets.LambdaInvoke(this.indexReport.function, { ...options, input: scheduledInput }),
    });
    // The scheduler targets' roles live at stack level, so acknowledge there.
    acknowledgeInvokeQualifiers(Stack.of(this), this.analyze.function);
    acknowledgeInvokeQualifiers(Stack.of(this), this.indexReport.function);
  }
}

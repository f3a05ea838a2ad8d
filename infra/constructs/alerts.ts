import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { EnvName, METRICS_NAMESPACE } from '../../lambdas/runtime/env-names.ts';
import { OffpeakFunction } from './offpeak-function.ts';

export interface AlertsProps {
  /** Each address gets an SNS email subscription (confirmed from the inbox). */
  emails: string[];
  /** Secrets Manager secret whose SecretString is the Slack incoming-webhook URL; no Slack when unset. */
  slackWebhookSecretArn?: string | undefined;
  /** The customer-managed KMS key that encrypts the Slack secret, when it is not the AWS-managed one. */
  slackSecretKeyArn?: string | undefined;
  /** Where async invocations (SNS → slack-notify) land after Lambda's retries, and alarm deliveries SNS could not make. */
  asyncFailureQueue: sqs.IQueue;
}

/** What every alarm says in its description and docs/aws.md explains: id → meaning. */
export interface AlarmSpec {
  id: string;
  description: string;
  metric: cloudwatch.IMetric;
  /** Default 1. */
  threshold?: number;
  /** Default: at or above the threshold. */
  comparisonOperator?: cloudwatch.ComparisonOperator;
  evaluationPeriods?: number;
  datapointsToAlarm?: number;
  /** Default: missing data is not breaching (nothing happened, nothing failed). */
  treatMissingData?: cloudwatch.TreatMissingData;
  /**
   * Default true: the alarm publishes to the topic. False for an alarm whose trouble already has its
   * own message (one failure, one notice): it keeps its state for the dashboard and for actions an
   * operator adds, and says why in `silentBecause`.
   */
  silentBecause?: string;
}

/**
 * Where everything offpeak has to say goes: the operator SNS topic encrypted with a
 * customer-managed KMS key, email subscriptions, the slack-notify function; and the
 * alarms, which publish to an internal alarm topic (its topic policy and the key policy
 * both allow them) that alarm-notify renders into the operator topic.
 */
export class Alerts extends Construct {
  readonly key: kms.Key;
  /** The operator topic: emails, Slack, and any subscriber added by hand. */
  readonly topic: sns.Topic;
  /** Internal: the alarms publish here, and only alarm-notify reads it. */
  readonly alarmTopic: sns.Topic;
  readonly alarmNotify: OffpeakFunction;
  readonly slackNotify: OffpeakFunction | undefined;
  /** The alarms that publish to the topic (the topic policy allows exactly these). */
  readonly alarms: cloudwatch.Alarm[] = [];
  private readonly action: cwActions.SnsAction;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const alarmArns = `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`;

    this.key = new kms.Key(this, 'Key', {
      description: 'offpeak alerts topic encryption',
      enableKeyRotation: true,
    });
    // CloudWatch alarms publish as the service itself, so the key policy must let
    // it encrypt for this topic; limited to alarms in this account.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnLike: { 'aws:SourceArn': alarmArns } },
      }),
    );

    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'offpeak',
      masterKey: this.key,
      enforceSSL: true,
    });
    // Alarms publish here, not to the operator topic: the alarm-notify function renders each one through
    // the notice model into the operator topic, like every other notice (docs/aws.md#alarms).
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'offpeak alarms (internal)',
      masterKey: this.key,
      enforceSSL: true,
    });
    // enforceSSL gives the topic a policy of its own, which replaces SNS's default one: without this
    // statement nothing would let CloudWatch publish, and every alarm would fail to deliver.
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisStacksAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnEquals: { 'aws:SourceArn': Lazy.list({ produce: () => this.alarms.map((a) => a.alarmArn) }) },
        },
      }),
    );

    for (const email of props.emails) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }

    if (props.slackWebhookSecretArn) {
      this.slackNotify = new OffpeakFunction(this, 'SlackNotify', {
        handler: 'slackNotify',
        description: 'Posts offpeak reports, notices and alarms to a Slack incoming webhook',
        timeout: Duration.seconds(30),
        memorySize: 256,
      });
      this.slackNotify.addEnvironment(EnvName.slackWebhookSecretArn, props.slackWebhookSecretArn);
      this.slackNotify.bindSecret(props.slackWebhookSecretArn, 'SlackWebhookSecret', props.slackSecretKeyArn);
      this.slackNotify.failAsyncInto(props.asyncFailureQueue);
      this.topic.addSubscription(new subscriptions.LambdaSubscription(this.slackNotify.function));
    }

    // The one notifier for alarms. The fallback needs no code of ours: after Lambda's two retries a failed
    // invocation goes to the on-failure destination, the operator topic, carrying the raw alarm. A delivery
    // SNS cannot make to the function at all lands in the async-failure queue, whose depth alarms.
    this.alarmNotify = new OffpeakFunction(this, 'AlarmNotify', {
      handler: 'alarmNotify',
      description: 'offpeak: renders each CloudWatch alarm as a notice and publishes it to the alerts topic',
      timeout: Duration.seconds(30),
      memorySize: 256,
    }).bindTopic(this.topic, this.key);
    // Not destinations.SnsDestination: its grant adds kms:GenerateDataKey* on the key, where bindTopic
    // already grants the role exactly sns:Publish on this topic and kms:GenerateDataKey/Decrypt on its key.
    const operatorTopic: lambda.IDestination = { bind: () => ({ destination: this.topic.topicArn }) };
    this.alarmNotify.function.configureAsyncInvoke({ onFailure: operatorTopic, retryAttempts: 2 });
    this.alarmTopic.addSubscription(new subscriptions.LambdaSubscription(this.alarmNotify.function, { deadLetterQueue: props.asyncFailureQueue }));

    this.action = new cwActions.SnsAction(this.alarmTopic);
  }

  /** An alarm that publishes to the topic (and is allowed to by the topic policy). */
  alarm(spec: AlarmSpec): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, spec.id, {
      alarmDescription: `offpeak: ${spec.description}${spec.silentBecause === undefined ? '' : ` (no action: ${spec.silentBecause})`} (docs/aws.md#alarms)`,
      metric: spec.metric,
      threshold: spec.threshold ?? 1,
      evaluationPeriods: spec.evaluationPeriods ?? 1,
      ...(spec.datapointsToAlarm ? { datapointsToAlarm: spec.datapointsToAlarm } : {}),
      comparisonOperator: spec.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: spec.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (spec.silentBecause === undefined) {
      alarm.addAlarmAction(this.action);
      this.alarms.push(alarm);
    }
    return alarm;
  }

  /** Window runs the state machine did not handle: failed (not a failed migration, which is noticed), timed out or aborted. */
  alarmOnExecutionFailures(id: string, stateMachine: sfn.IStateMachine): cloudwatch.Alarm {
    const period = Duration.minutes(5);
    return this.alarm({
      id,
      description: 'the window run state machine failed, timed out or was aborted outside its handled paths',
      metric: sumOf(period, {
        failed: stateMachine.metricFailed({ period, statistic: cloudwatch.Stats.SUM }),
        timedOut: stateMachine.metricTimedOut({ period, statistic: cloudwatch.Stats.SUM }),
        aborted: stateMachine.metricAborted({ period, statistic: cloudwatch.Stats.SUM }),
      }),
    });
  }

  /** Any failed invocation (or throttle) of a function whose failures nothing else reports. */
  alarmOnErrors(id: string, description: string, fn: lambda.IFunction): cloudwatch.Alarm {
    const period = Duration.minutes(5);
    return this.alarm({
      id,
      description,
      metric: sumOf(period, {
        errors: fn.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
        throttles: fn.metricThrottles({ period, statistic: cloudwatch.Stats.SUM }),
      }),
    });
  }

  /** A message in a dead-letter or on-failure queue. */
  alarmOnQueueDepth(id: string, description: string, queue: sqs.IQueue): cloudwatch.Alarm {
    return this.alarm({
      id,
      description,
      metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
    });
  }

  /** A handler's EMF metric reached the threshold in one period. */
  alarmOnMetric(id: string, description: string, metric: { name: string; service: string }, threshold: number, period = Duration.minutes(5)): cloudwatch.Alarm {
    return this.alarm({
      id,
      description,
      metric: emfMetric(metric.name, metric.service, period, cloudwatch.Stats.MAXIMUM),
      threshold,
    });
  }

  /**
   * A nightly job that has not reported success for `hours`: one-hour periods, every
   * one of them empty, missing data breaching (a job that never runs sends no data at all).
   */
  alarmOnSilence(id: string, description: string, metric: { name: string; service: string }, hours: number): cloudwatch.Alarm {
    return this.alarm({
      id,
      description,
      metric: emfMetric(metric.name, metric.service, Duration.hours(1), cloudwatch.Stats.SUM),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: hours,
      datapointsToAlarm: hours,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }
}

/** The sum of named metrics over one period, as one alarmable expression (`a + b + …`). */
function sumOf(period: Duration, metrics: Record<string, cloudwatch.IMetric>): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({ expression: Object.keys(metrics).join(' + '), usingMetrics: metrics, period });
}

/** A handler's EMF metric: Powertools dimensions every metric by `service`. */
export function emfMetric(name: string, service: string, period: Duration, statistic: string): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { service }, statistic, period });
}

import { Duration, Stack } from 'aws-cdk-lib';
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
import { EnvName } from '../../lambdas/runtime/env-names.ts';
import { OffpeakFunction } from './offpeak-function.ts';

export interface AlertsProps {
  /** Each address gets an SNS email subscription (confirmed from the inbox). */
  emails: string[];
  /** Secrets Manager secret whose SecretString is the Slack incoming-webhook URL; no Slack when unset. */
  slackWebhookSecretArn?: string | undefined;
}

/**
 * Where everything offpeak has to say goes: one SNS topic encrypted with a
 * customer-managed KMS key, email subscriptions, the slack-notify function, and
 * helpers that point alarms at the topic.
 */
export class Alerts extends Construct {
  readonly key: kms.Key;
  readonly topic: sns.Topic;
  readonly slackNotify: OffpeakFunction | undefined;
  private readonly action: cwActions.SnsAction;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);

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
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );

    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'offpeak',
      masterKey: this.key,
      enforceSSL: true,
    });

    for (const email of props.emails) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }

    if (props.slackWebhookSecretArn) {
      this.slackNotify = new OffpeakFunction(this, 'SlackNotify', {
        handler: 'slackNotify',
        description: 'Posts offpeak reports and alerts to a Slack incoming webhook',
        timeout: Duration.seconds(30),
        memorySize: 256,
      });
      this.slackNotify.addEnvironment(EnvName.slackWebhookSecretArn, props.slackWebhookSecretArn);
      this.slackNotify.bindSecret(props.slackWebhookSecretArn, 'SlackWebhookSecret');
      this.topic.addSubscription(new subscriptions.LambdaSubscription(this.slackNotify.function));
    }

    this.action = new cwActions.SnsAction(this.topic);
  }

  private notify(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    alarm.addAlarmAction(this.action);
    return alarm;
  }

  /** Any error of the function in 5 minutes. Handlers throw on failure, so this is the failure signal. */
  alarmOnErrors(id: string, fn: lambda.IFunction): cloudwatch.Alarm {
    return this.notify(
      new cloudwatch.Alarm(this, `${id}Errors`, {
        alarmDescription: `offpeak: ${id} function failed`,
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /** Failed, timed-out or aborted executions of the state machine. */
  alarmOnExecutionFailures(id: string, stateMachine: sfn.IStateMachine): cloudwatch.Alarm {
    const period = Duration.minutes(5);
    return this.notify(
      new cloudwatch.Alarm(this, `${id}Failures`, {
        alarmDescription: `offpeak: ${id} execution failed, timed out or was aborted`,
        metric: new cloudwatch.MathExpression({
          expression: 'failed + timedOut + aborted',
          usingMetrics: {
            failed: stateMachine.metricFailed({ period, statistic: cloudwatch.Stats.SUM }),
            timedOut: stateMachine.metricTimedOut({ period, statistic: cloudwatch.Stats.SUM }),
            aborted: stateMachine.metricAborted({ period, statistic: cloudwatch.Stats.SUM }),
          },
          period,
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /** A schedule delivery that exhausted its retries sits in the DLQ. */
  alarmOnQueueDepth(id: string, queue: sqs.IQueue): cloudwatch.Alarm {
    return this.notify(
      new cloudwatch.Alarm(this, `${id}Depth`, {
        alarmDescription: `offpeak: ${id} has undelivered schedule invocations`,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}

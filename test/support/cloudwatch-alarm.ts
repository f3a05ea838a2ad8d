/**
 * A CloudWatch alarm's SNS notification, in the documented shape (Amazon CloudWatch User Guide,
 * "Amazon SNS notification format for alarms"): the Message is this JSON as a string.
 */
export const ALARM_ARN = 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:Offpeak-AlertsNoticesNotSent1A2B3C4D-Xy12Ab34Cd56';
export const cloudWatchAlarmMessage = {
  AlarmName: 'Offpeak-AlertsNoticesNotSent1A2B3C4D-Xy12Ab34Cd56',
  AlarmDescription: 'offpeak: a window-run notice could not be published (the run itself is unaffected) (docs/aws.md#alarms)',
  AWSAccountId: '111122223333',
  AlarmConfigurationUpdatedTimestamp: '2026-12-01T10:00:00.000+0000',
  NewStateValue: 'ALARM',
  NewStateReason:
    'Threshold Crossed: 1 out of the last 1 datapoints [1.0 (03/12/26 02:10:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).',
  StateChangeTime: '2026-12-03T02:15:31.962+0000',
  Region: 'EU (Ireland)',
  AlarmArn: ALARM_ARN,
  OldStateValue: 'OK',
  OKActions: [],
  AlarmActions: ['arn:aws:sns:eu-west-1:111122223333:Offpeak-AlertsAlarmTopic-AbCdEf'],
  InsufficientDataActions: [],
  Trigger: {
    Period: 300,
    EvaluationPeriods: 1,
    DatapointsToAlarm: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    Threshold: 1.0,
    TreatMissingData: 'notBreaching',
    EvaluateLowSampleCountPercentile: '',
    Metrics: [
      { Id: 'expr_1', Expression: 'errors + throttles', Label: 'expr_1', ReturnData: true },
      { Id: 'errors', MetricStat: { Metric: { Dimensions: [{ value: 'Offpeak-MigrationsNotify', name: 'FunctionName' }], MetricName: 'Errors', Namespace: 'AWS/Lambda' }, Period: 300, Stat: 'Sum' }, ReturnData: false },
    ],
  },
};

/** The SNS event a Lambda subscribed to the alarm topic receives for `message`. */
export function snsEventOf(message: string, subject = 'ALARM: "Offpeak-AlertsNoticesNotSent1A2B3C4D-Xy12Ab34Cd56" in EU (Ireland)') {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: 'arn:aws:sns:eu-west-1:111122223333:Offpeak-AlertsAlarmTopic-AbCdEf:sub-1',
        Sns: {
          Type: 'Notification',
          MessageId: 'c1a2b3d4-0000-4000-8000-000000000001',
          TopicArn: 'arn:aws:sns:eu-west-1:111122223333:Offpeak-AlertsAlarmTopic-AbCdEf',
          Subject: subject,
          Message: message,
          Timestamp: '2026-12-03T02:15:32.010Z',
        },
      },
    ],
  };
}

import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cloudWatchAlarmMessage, snsEventOf } from '../../support/cloudwatch-alarm.ts';
import { lambdaContext } from './lambda-context.ts';

/**
 * alarm-notify: one CloudWatch alarm from the internal alarm topic becomes one notice on the
 * operator topic, rendered by the notice model. SNS is aws-sdk-client-mock, asserted on what was sent.
 */
const OPERATOR_TOPIC = 'arn:aws:sns:eu-west-1:111122223333:Offpeak-AlertsTopic-AbCdEf';
const sns = mockClient(SNSClient);
let handler: typeof import('../../../lambdas/handlers/alarm-notify.ts').handler;

beforeAll(async () => {
  Object.assign(process.env, { OFFPEAK_TOPIC_ARN: OPERATOR_TOPIC, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true', AWS_REGION: 'eu-west-1' });
  ({ handler } = await import('../../../lambdas/handlers/alarm-notify.ts'));
});
beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'out-1' });
});
afterAll(() => sns.restore());

const sent = () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input);

describe('alarm-notify', () => {
  it('renders one CloudWatch alarm as one notice: text for email, the notice model for Slack, to the operator topic', async () => {
    const result = await handler(snsEventOf(JSON.stringify(cloudWatchAlarmMessage)), lambdaContext('offpeak-alarm-notify'));

    expect(sent()).toHaveLength(1);
    const input = sent()[0]!;
    expect(input).toMatchObject({ TopicArn: OPERATOR_TOPIC, MessageStructure: 'json', Subject: 'offpeak alarm ALARM: Offpeak-AlertsNoticesNotSent1A2B3C4D-Xy12Ab34Cd56' });
    const body = JSON.parse(input.Message!) as { default: string; email: string; lambda: string };
    expect(body.email).toBe(body.default);
    expect(body.email).toContain('State:\n  ALARM (was OK) since 2026-12-03T02:15:31.962+0000');
    expect(body.email).toContain('Meaning:\n  offpeak: a window-run notice could not be published');
    expect(body.email).toContain('Reason:\n  Threshold Crossed: 1 out of the last 1 datapoints');
    // Not CloudWatch's raw JSON.
    expect(body.email).not.toContain('"AlarmName"');
    expect(JSON.parse(body.lambda)).toEqual({
      offpeakNotice: 1,
      notice: {
        kind: 'alarm',
        alarmName: cloudWatchAlarmMessage.AlarmName,
        state: 'ALARM',
        previousState: 'OK',
        reason: cloudWatchAlarmMessage.NewStateReason,
        description: cloudWatchAlarmMessage.AlarmDescription,
        at: cloudWatchAlarmMessage.StateChangeTime,
      },
    });
    expect(result).toEqual({ published: [{ snsMessageId: 'c1a2b3d4-0000-4000-8000-000000000001', messageId: 'out-1', as: 'notice' }] });
  });

  it('passes a message it cannot read as an alarm on as it came, so nothing is lost', async () => {
    const result = await handler(snsEventOf('{"not":"an alarm"}', 'something else'), lambdaContext('offpeak-alarm-notify'));

    expect(sent()).toEqual([{ TopicArn: OPERATOR_TOPIC, Subject: 'something else', Message: '{"not":"an alarm"}' }]);
    expect(result.published[0]!.as).toBe('as_is');
  });

  it('throws when SNS refuses, so Lambda retries and the on-failure destination delivers the raw alarm', async () => {
    sns.on(PublishCommand).rejects(Object.assign(new Error('KMS key disabled'), { name: 'KMSDisabledException' }));

    await expect(handler(snsEventOf(JSON.stringify(cloudWatchAlarmMessage)), lambdaContext('offpeak-alarm-notify'))).rejects.toMatchObject({
      name: 'ReportPublishError',
      message: 'SNS refused the alarm notice (KMSDisabledException)',
    });
    expect(sent()).toHaveLength(1);
  });
});

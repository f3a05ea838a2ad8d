import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { ReportPublishError } from '../../../lambdas/core/errors.ts';
import { parseReportJson } from '../../../lambdas/core/render/report-json.ts';
import { createSnsReportPublisher } from '../../../lambdas/runtime/sns-report-publisher.ts';
import { producerReport, replicate } from '../../support/report-fixtures.ts';

const topicArn = 'arn:aws:sns:eu-west-1:123456789012:offpeak-reports';
const snsMock = mockClient(SNSClient);

afterEach(() => {
  snsMock.reset();
});

interface Envelope {
  default: string;
  email: string;
  lambda: string;
  https: string;
}

describe('createSnsReportPublisher', () => {
  it('publishes once with MessageStructure json and a rendering per protocol', async () => {
    // Prepare
    snsMock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    const publisher = createSnsReportPublisher({ sns: new SNSClient({ region: 'eu-west-1' }), topicArn });
    const report = producerReport();
    // Act
    const result = await publisher.publish(report);
    // Assess
    expect(result).toEqual({ messageId: 'msg-1' });
    const calls = snsMock.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.TopicArn).toBe(topicArn);
    expect(input.MessageStructure).toBe('json');
    expect(input.Subject).toBe('offpeak: 8 findings on postgres (1 bloated, 1 duplicate, 1 fk_without_index, 1 invalid, …)');
    const envelope = JSON.parse(input.Message!) as Envelope;
    expect(envelope.default).toContain('SUMMARY');
    expect(envelope.email).toContain('FINDINGS BY SEVERITY');
    expect(envelope.email).toContain('INDEX USAGE: idx_ indexes by idx_tup_read');
    expect(envelope.email).toContain('writer instance only');
    expect(parseReportJson(envelope.lambda)).toEqual(report);
    expect(parseReportJson(envelope.https)).toEqual(report);
  });

  it('keeps a 50,000-finding report within SNS limits', async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'msg-2' });
    const publisher = createSnsReportPublisher({ sns: new SNSClient({ region: 'eu-west-1' }), topicArn });
    await publisher.publish(replicate(producerReport(), { findings: 50_000, database: 'x'.repeat(300) }));
    const input = snsMock.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(Buffer.byteLength(input.Message!, 'utf8') + Buffer.byteLength(input.Subject!, 'utf8')).toBeLessThanOrEqual(262_144);
    expect(input.Subject!.length).toBeLessThan(100);
    expect(input.Subject).not.toMatch(/[\r\n]/);
  });

  it('sends the chat custom notification to https subscribers when configured', async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'msg-3' });
    const publisher = createSnsReportPublisher({ sns: new SNSClient({ region: 'eu-west-1' }), topicArn, https: 'chat-notification' });
    await publisher.publish(replicate(producerReport(), { findings: 3 }));
    const envelope = JSON.parse(snsMock.commandCalls(PublishCommand)[0]!.args[0].input.Message!) as Envelope;
    expect(JSON.parse(envelope.https)).toMatchObject({ version: '1.0', source: 'custom', content: { textType: 'client-markdown' } });
    expect(parseReportJson(envelope.lambda).findings).toHaveLength(3);
  });

  it('wraps an SNS failure in ReportPublishError with the cause', async () => {
    // Prepare
    const refusal = Object.assign(new Error('Invalid parameter: Message too long'), { name: 'InvalidParameterException' });
    snsMock.on(PublishCommand).rejects(refusal);
    const publisher = createSnsReportPublisher({ sns: new SNSClient({ region: 'eu-west-1' }), topicArn });
    // Act
    const outcome = publisher.publish({ ...producerReport(), database: 'appdb' });
    // Assess
    await expect(outcome).rejects.toBeInstanceOf(ReportPublishError);
    await expect(outcome).rejects.toMatchObject({
      message: 'SNS refused the index-health report for appdb (InvalidParameterException)',
      cause: refusal,
      context: { topicArn, errorName: 'InvalidParameterException' },
    });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('fails clearly when SNS returns no MessageId', async () => {
    snsMock.on(PublishCommand).resolves({});
    const publisher = createSnsReportPublisher({ sns: new SNSClient({ region: 'eu-west-1' }), topicArn });
    await expect(publisher.publish(producerReport())).rejects.toThrow(/returned no MessageId/);
  });
});

/**
 * ReportPublisher over SNS: one PublishCommand per report with
 * `MessageStructure: 'json'`, so email, Lambda and HTTPS subscribers each get their own
 * rendering (lambdas/core/render/sns-message.ts). The client is passed in so the
 * handler owns it at module scope and tests can mock it.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { IndexHealthReport } from '../core/health/report.ts';
import { ReportPublishError } from '../core/errors.ts';
import type { PublishResult, ReportPublisher } from '../core/render/publisher.ts';
import { buildSnsMessage, type SnsMessageOptions } from '../core/render/sns-message.ts';

export interface SnsReportPublisherOptions {
  sns: SNSClient;
  topicArn: string;
  /** See SnsMessageOptions.https: 'chat-notification' for a topic that feeds a chat channel. */
  https?: SnsMessageOptions['https'];
}

export function createSnsReportPublisher(options: SnsReportPublisherOptions): ReportPublisher {
  const { sns, topicArn } = options;
  return {
    async publish(report: IndexHealthReport): Promise<PublishResult> {
      const message = buildSnsMessage(report, options.https === undefined ? {} : { https: options.https });
      let messageId: string | undefined;
      try {
        const output = await sns.send(new PublishCommand({ TopicArn: topicArn, ...message }));
        messageId = output.MessageId;
      } catch (error) {
        const name = error instanceof Error ? error.name : 'UnknownError';
        throw new ReportPublishError(`SNS refused the index-health report for ${report.database} (${name})`, {
          cause: error,
          context: { topicArn, database: report.database, errorName: name },
        });
      }
      if (messageId === undefined) {
        throw new ReportPublishError('SNS accepted the report but returned no MessageId', { context: { topicArn } });
      }
      return { messageId };
    },
  };
}

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ReportPublishError } from '../core/errors.ts';
import { alarmNotice } from '../core/render/notice.ts';
import { MetricName } from '../runtime/env-names.ts';
import { offpeakHandler } from '../runtime/middleware.ts';
import { publishAsIs, publishNotice } from '../runtime/notice-publisher.ts';
import { logger, metrics } from '../runtime/observability.ts';
import { snsEventSchema } from './schemas.ts';

export interface AlarmNotifyResult {
  published: Array<{ snsMessageId: string; messageId: string; as: 'notice' | 'as_is' }>;
}

/**
 * Subscribed to the internal alarm topic, where every offpeak alarm publishes: renders each CloudWatch
 * alarm through the notice model and publishes it to the operator topic (text for email, the model for
 * Slack), as the window-run notices are. A message it cannot read or render goes on as it came, so an
 * alarm is never lost to the renderer; when SNS refuses, it throws, Lambda retries twice, and the
 * function's on-failure destination (the operator topic) delivers the raw alarm.
 */
export const handler = offpeakHandler('alarm-notify', snsEventSchema, async (event): Promise<AlarmNotifyResult> => {
  const published: AlarmNotifyResult['published'] = [];
  for (const record of event.Records) {
    const { Message, Subject, MessageId } = record.Sns;
    let messageId: string | undefined;
    let alarmName: string | undefined;
    try {
      const notice = alarmNotice(Message);
      if (notice?.kind === 'alarm') {
        alarmName = notice.alarmName;
        messageId = await publishNotice(notice);
      }
    } catch (error) {
      // SNS refusing is for Lambda's retries and the on-failure destination; anything else is the renderer's.
      if (error instanceof ReportPublishError) throw error;
      logger.error({ message: 'alarm_unrenderable', snsMessageId: MessageId, error: (error as Error).message });
    }
    const as = messageId === undefined ? 'as_is' : 'notice';
    messageId ??= await publishAsIs(Subject ?? 'offpeak alarm', Message);
    published.push({ snsMessageId: MessageId, messageId, as });
    metrics.addMetric(MetricName.noticesSent, MetricUnit.Count, 1);
    logger.info({ message: 'alarm_published', snsMessageId: MessageId, messageId, as, alarmName });
  }
  return { published };
});

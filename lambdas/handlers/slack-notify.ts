import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { clip } from '../core/render/format.ts';
import { truncateToCost } from '../core/render/text-budget.ts';
import { parseReportJson } from '../core/render/report-json.ts';
import { alarmNotice, parseNoticeEnvelope, renderNoticeSlack } from '../core/render/notice.ts';
import { escapeSlack, renderSlackBlocks, type SlackMessage } from '../core/render/slack-blocks.ts';
import { slackWebhookSecretArn } from '../runtime/config.ts';
import { MetricName } from '../runtime/env-names.ts';
import { offpeakHandler } from '../runtime/middleware.ts';
import { logger, metrics } from '../runtime/observability.ts';
import { postToSlack, slackWebhookUrl } from '../runtime/slack-webhook.ts';
import { snsEventSchema } from './schemas.ts';

export interface SlackNotifyResult {
  posted: Array<{ messageId: string; kind: 'report' | 'notice' | 'text' }>;
}

/** Room for the message text in one section (3,000 chars) after the code fence. */
const NOTICE_CHARS = 2_900;

/** A report's `lambda` body is the report JSON; anything else on the topic is a notice. */
function looksLikeReport(message: string): boolean {
  if (!message.trimStart().startsWith('{')) return false;
  try {
    const value = JSON.parse(message) as Record<string, unknown>;
    return typeof value === 'object' && value !== null && 'findings' in value && 'generatedAt' in value;
  } catch {
    return false;
  }
}

/** Anything else on the topic: the subject as the headline, the body verbatim in a code block. */
function noticeMessage(subject: string, body: string): SlackMessage {
  let pretty = body;
  try {
    pretty = JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    // not JSON: show it as sent
  }
  // Cut by the escaped length: `&`, `<` and `>` grow to entities, and cutting after
  // escaping could split one. A cut body says so.
  const escapedLength = (text: string) => escapeSlack(text).length;
  const fits = truncateToCost(pretty, NOTICE_CHARS, escapedLength);
  const shown = fits === pretty ? pretty : `${truncateToCost(pretty, NOTICE_CHARS - 20, escapedLength)}\n… (cut)`;
  return {
    text: escapeSlack(clip(subject, 200)),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${escapeSlack(clip(subject, 200))}*` } },
      { type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${escapeSlack(shown).replace(/```/g, "'''")}\`\`\`` } },
    ],
  };
}

/**
 * Subscribed to the alerts topic. A report is rebuilt from its `lambda` JSON body
 * and posted as Block Kit; run notices and alarms are rendered from the notice model. A post that
 * Slack refuses throws, so Lambda retries the delivery and the Errors alarm fires.
 */
export const handler = offpeakHandler('slack-notify', snsEventSchema, async (event): Promise<SlackNotifyResult> => {
  const url = await slackWebhookUrl(slackWebhookSecretArn());
  const posted: SlackNotifyResult['posted'] = [];
  for (const record of event.Records) {
    const { Message, Subject, MessageId } = record.Sns;
    // Window-run notices carry their model; CloudWatch alarms their own JSON: both become the same Block Kit.
    const notice = parseNoticeEnvelope(Message) ?? alarmNotice(Message);
    const kind = looksLikeReport(Message) ? 'report' : notice ? 'notice' : 'text';
    const message =
      kind === 'report' ? renderSlackBlocks(parseReportJson(Message)) : notice ? renderNoticeSlack(notice) : noticeMessage(Subject ?? 'offpeak', Message);
    await postToSlack(url, message);
    posted.push({ messageId: MessageId, kind });
    metrics.addMetric(MetricName.slackPosts, MetricUnit.Count, 1);
    logger.info({ message: 'posted_to_slack', snsMessageId: MessageId, kind, blocks: message.blocks.length });
  }
  return { posted };
});

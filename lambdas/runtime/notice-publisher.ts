import { PublishCommand } from '@aws-sdk/client-sns';
import { ReportPublishError } from '../core/errors.ts';
import { noticeEnvelope, renderNoticeText, type Notice } from '../core/render/notice.ts';
import { clip } from '../core/render/format.ts';
import { topicArn } from './config.ts';
import { snsClient } from './sns-client.ts';

/**
 * Publishes one notice to the operator topic, once: its plain text for email (and any other protocol),
 * its model in the `lambda` body for slack-notify, which renders the same model as Block Kit. Throws
 * ReportPublishError when SNS refuses (the caller's retries take over).
 */
export async function publishNotice(notice: Notice): Promise<string> {
  const { subject, text } = renderNoticeText(notice);
  return publish(notice.kind, { Subject: subject, MessageStructure: 'json', Message: JSON.stringify({ default: text, email: text, lambda: noticeEnvelope(notice) }) });
}

/** Passes a message on as it came (a fallback when it cannot be rendered), so it is never lost. */
export async function publishAsIs(subject: string, message: string): Promise<string> {
  return publish('as_is', { Subject: clip(subject.replace(/[\r\n]+/g, ' '), 99), Message: message });
}

async function publish(kind: string, input: { Subject: string; Message: string; MessageStructure?: string }): Promise<string> {
  try {
    const out = await snsClient.send(new PublishCommand({ TopicArn: topicArn(), ...input }));
    return out.MessageId ?? '';
  } catch (error) {
    throw new ReportPublishError(`SNS refused the ${kind} notice (${(error as Error).name})`, { cause: error, context: { kind } });
  }
}

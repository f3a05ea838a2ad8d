/**
 * The one SNS publish for a report: `MessageStructure: 'json'`, so each protocol gets
 * its own rendering: `default` and `email` plain text, `lambda` and `https` the report
 * JSON, `sms` the subject line. The whole envelope, with every value escaped as a JSON string, fits SNS's
 * 262,144 bytes; the budget is split between the four bodies below.
 */
import type { IndexHealthReport } from '../health/report.ts';
import { OffpeakError } from '../errors.ts';
import { SNS_ENVELOPE_MARGIN_BYTES, SNS_MAX_MESSAGE_BYTES } from './limits.ts';
import { renderChatNotification } from './chat-notification.ts';
import { renderEmailText } from './email-text.ts';
import { renderJson } from './report-json.ts';
import { renderSubject } from './subject.ts';
import { jsonStringCost, utf8Cost } from './text-budget.ts';

export interface SnsReportMessage {
  Subject: string;
  /** A JSON object with string values for `default`, `email`, `lambda`, `https` and `sms`. */
  Message: string;
  MessageStructure: 'json';
}

export interface SnsMessageOptions {
  /** Bytes for Subject plus Message. Default: 262,144 minus an envelope margin. */
  maxBytes?: number;
  /**
   * What `https` subscribers get. Amazon Q Developer in chat applications subscribes to a
   * topic over https and only renders its own custom-notification shape, so a topic that
   * feeds a chat channel wants 'chat-notification'. Default 'report-json'.
   */
  https?: 'report-json' | 'chat-notification';
}

/**
 * Shares of the budget; the email gets the rest (at least 40%): it is the one channel meant
 * to carry the full list. `default` (SQS, SMS and any other protocol) gets a shorter text.
 */
const SHARES = { default: 0.1, lambda: 0.25, https: 0.25 } as const;

export function buildSnsMessage(report: IndexHealthReport, options: SnsMessageOptions = {}): SnsReportMessage {
  const maxBytes = options.maxBytes ?? SNS_MAX_MESSAGE_BYTES - SNS_ENVELOPE_MARGIN_BYTES;
  const Subject = renderSubject(report);
  // Keys, quotes, colons, commas and braces of the envelope itself.
  // SMS takes at most 1,600 characters per publish: a text message gets the subject line alone.
  const sms = Subject;
  const overhead = utf8Cost(JSON.stringify({ default: '', email: '', lambda: '', https: '', sms }));
  const available = maxBytes - utf8Cost(Subject) - overhead;
  const share = (key: keyof typeof SHARES): number => Math.floor(available * SHARES[key]);

  const json = renderJson(report, { maxBytes: share('lambda'), cost: jsonStringCost });
  const https = options.https === 'chat-notification' ? JSON.stringify(renderChatNotification(report)) : json;
  const fallback = renderEmailText(report, { maxBytes: share('default'), cost: jsonStringCost, tableRows: 10 });
  // The email gets everything the others did not use.
  const emailBytes = available - jsonStringCost(json) - jsonStringCost(https) - jsonStringCost(fallback);
  const envelope = {
    default: fallback,
    email: renderEmailText(report, { maxBytes: emailBytes, cost: jsonStringCost }),
    lambda: json,
    https,
    sms,
  };
  const Message = JSON.stringify(envelope);
  const size = utf8Cost(Subject) + utf8Cost(Message);
  if (size > maxBytes) {
    // The budget arithmetic makes this unreachable; refuse loudly rather than have SNS refuse at 3 a.m.
    throw new OffpeakError(`SNS message of ${size} bytes exceeds its budget of ${maxBytes}`, { context: { size, maxBytes } });
  }
  return { Subject, Message, MessageStructure: 'json' };
}

import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { ConfigError, OffpeakError } from '../core/errors.ts';
import type { SlackMessage } from '../core/render/slack-blocks.ts';

/** Slack answers in well under a second; a stuck webhook must not eat the whole invocation. */
const POST_TIMEOUT_MS = 10_000;

/**
 * The webhook URL from Secrets Manager: the SecretString is the URL itself, or
 * JSON with a `url` (or `webhookUrl`) key. Powertools caches it for a few seconds.
 * The URL is a credential: it is never logged or put in an error message.
 */
export async function slackWebhookUrl(secretArn: string): Promise<URL> {
  const value = await getSecret<string>(secretArn);
  if (typeof value !== 'string' || !value.trim()) {
    throw new ConfigError('the Slack webhook secret has no SecretString: store the incoming-webhook URL in it', { context: { secretArn } });
  }
  let text = value.trim();
  if (text.startsWith('{')) {
    const parsed = JSON.parse(text) as { url?: unknown; webhookUrl?: unknown };
    text = String(parsed.url ?? parsed.webhookUrl ?? '');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError('the Slack webhook secret does not hold a URL: store the incoming-webhook URL (https://hooks.slack.com/services/…)', { context: { secretArn } });
  }
  const local = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
  if (url.protocol !== 'https:' && !(local && url.protocol === 'http:')) {
    throw new ConfigError('the Slack webhook URL must use https', { context: { secretArn } });
  }
  return url;
}

/** Posts one message; any non-2xx answer is an error (Slack says why in the body, e.g. msg_blocks_too_long). */
export async function postToSlack(url: URL, message: SlackMessage): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(POST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new OffpeakError(`posting to the Slack webhook failed: ${(error as Error).name}`, { cause: error });
  }
  const body = (await response.text()).slice(0, 200);
  if (!response.ok) {
    throw new OffpeakError(`the Slack webhook answered ${response.status}: ${body}`, { context: { status: response.status, body } });
  }
}

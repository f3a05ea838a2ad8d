import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { serviceName } from '../../../infra/constructs/offpeak-function.ts';
import { METRICS_NAMESPACE } from '../../../lambdas/runtime/env-names.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { parseReportJson } from '../../../lambdas/core/render/report-json.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { handlerEnv, lambdaContext } from '../../unit/handlers/lambda-context.ts';

/**
 * The nightly jobs end to end in process: ANALYZE + snapshot and the report over
 * the local Data API server (real SDK client, real PostgreSQL), the report published
 * through a mocked SNS client, then slack-notify posting what SNS would deliver to a
 * real HTTP server standing in for Slack's webhook.
 */
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:offpeak-alerts';
const SLACK_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:offpeak/slack-AbCdEf';

let api: TestDataApi;
let slack: Server;
let slackStatus = 200;
const slackPosts: Array<{ text: string; blocks: Array<{ type: string }> }> = [];
const sns = mockClient(SNSClient);
const secrets = mockClient(SecretsManagerClient);

/** What the handlers print (EMF metrics), kept out of the test output and inspected below. */
const stdoutLines: string[] = [];

let analyze: typeof import('../../../lambdas/handlers/analyze.ts').handler;
let indexReport: typeof import('../../../lambdas/handlers/index-report.ts').handler;
let slackNotify: typeof import('../../../lambdas/handlers/slack-notify.ts').handler;

function snsEvent(message: string, subject: string) {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${TOPIC}:sub-1`,
        Sns: { Type: 'Notification', MessageId: 'msg-1', TopicArn: TOPIC, Subject: subject, Message: message, Timestamp: '2030-03-05T01:30:00.000Z' },
      },
    ],
  };
}

beforeAll(async () => {
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdoutLines.push(String(chunk));
    return true;
  });
  api = await startTestDataApi();
  await api.db.client.query(sql`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL)`);
  await api.db.client.query(sql`INSERT INTO orders SELECT g, g % 50, CASE WHEN g % 3 = 0 THEN 'paid' ELSE 'new' END FROM generate_series(1, 500) g`);
  await api.db.client.query(sql`CREATE INDEX idx_orders_customer ON orders (customer_id)`);
  await api.db.client.query(sql`CREATE INDEX idx_orders_customer_copy ON orders (customer_id)`);

  slack = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      slackPosts.push(JSON.parse(body) as (typeof slackPosts)[number]);
      res.writeHead(slackStatus, { 'content-type': 'text/plain' }).end(slackStatus === 200 ? 'ok' : 'invalid_blocks');
    });
  });
  await new Promise<void>((resolve) => slack.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(slack.address() as AddressInfo).port}/services/T000/B000/XXXX`;
  secrets.on(GetSecretValueCommand, { SecretId: SLACK_SECRET }).resolves({ ARN: SLACK_SECRET, Name: 'offpeak/slack', SecretString: url });
  sns.on(PublishCommand).resolves({ MessageId: 'sns-message-1' });

  Object.assign(process.env, handlerEnv(api), {
    OFFPEAK_TOPIC_ARN: TOPIC,
    OFFPEAK_SLACK_WEBHOOK_SECRET_ARN: SLACK_SECRET,
    OFFPEAK_INDEX_PREFIX: 'idx_',
    // Metrics on, named as infra names the report function, so the EMF the dashboard reads can be checked.
    POWERTOOLS_METRICS_DISABLED: 'false',
    POWERTOOLS_SERVICE_NAME: serviceName('indexReport'),
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  });
  ({ handler: analyze } = await import('../../../lambdas/handlers/analyze.ts'));
  ({ handler: indexReport } = await import('../../../lambdas/handlers/index-report.ts'));
  ({ handler: slackNotify } = await import('../../../lambdas/handlers/slack-notify.ts'));
});

afterAll(async () => {
  vi.restoreAllMocks();
  sns.restore();
  secrets.restore();
  await new Promise((resolve) => slack?.close(resolve));
  await api?.dispose();
});

// Each test stands alone (any order, `--sequence.shuffle`): mocks' histories and the Slack posts start empty.
beforeEach(() => {
  sns.resetHistory();
  slackPosts.length = 0;
  stdoutLines.length = 0;
  slackStatus = 200;
});

/** The nightly pair as the state machine runs it: ANALYZE, then the report; returns what was published. */
async function publishReport() {
  await analyze({ source: 'schedule', scheduledTime: '2030-03-05T01:00:00Z' }, lambdaContext('offpeak-analyze'));
  sns.resetHistory();
  stdoutLines.length = 0;
  const result = await indexReport({ source: 'schedule' }, lambdaContext('offpeak-index-report'));
  const calls = sns.commandCalls(PublishCommand);
  expect(calls).toHaveLength(1);
  return { result, published: calls[0]!.args[0].input, lines: [...stdoutLines] };
}

describe('analyze', () => {
  it('snapshots index usage and ANALYZEs the stale tables until none is left', async () => {
    // A table never analyzed (autovacuum leaves an empty new table alone), so the run has one for sure.
    await api.db.client.query(sql`CREATE TABLE IF NOT EXISTS never_analyzed (id int)`);
    const result = await analyze({ source: 'schedule', scheduledTime: '2030-03-05T01:00:00Z' }, lambdaContext('offpeak-analyze'));
    expect(result.analyzed).toContain('public.never_analyzed');
    expect(result.failed).toEqual([]);
    expect(result.remaining).toBe(0);
    expect(result.snapshotIndexes).toBeGreaterThanOrEqual(3);
    // Which tables count as stale is core's call (and autovacuum may get there first on a
    // real server); what holds here: everything queued was analyzed, and the report that
    // follows finds no stale statistics (asserted below).
    for (const table of result.analyzed) {
      const [schema, name] = table.split('.');
      const { rows } = await api.db.client.query<{ analyzed: boolean }>(
        sql`SELECT last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE schemaname = ${schema!} AND relname = ${name!}`,
      );
      expect(rows[0]?.analyzed, table).toBe(true);
    }
  });
});

describe('index-report', () => {
  it('publishes one report to the topic with a body per protocol, and findings by kind as EMF', async () => {
    const { result, published, lines } = await publishReport();
    expect(result.messageId).toBe('sns-message-1');
    expect(result.byKind.stale_stats).toBeUndefined();
    expect(result.byKind.duplicate).toBeGreaterThanOrEqual(1);

    expect(published.TopicArn).toBe(TOPIC);
    expect(published.MessageStructure).toBe('json');
    expect(published.Subject!.length).toBeLessThan(100);
    expect(published.Subject).not.toMatch(/[\r\n]/);
    expect(Buffer.byteLength(published.Subject! + published.Message!, 'utf8')).toBeLessThanOrEqual(262_144);

    const bodies = JSON.parse(published.Message!) as Record<string, unknown>;
    for (const key of ['default', 'email', 'lambda', 'https']) expect(typeof bodies[key], key).toBe('string');
    expect(bodies['email']).toContain('idx_orders_customer');
    const report = parseReportJson(bodies['lambda'] as string);
    expect(report.database).toBe(api.database);
    expect(report.findings.some((f) => f.kind === 'duplicate' && f.table === 'orders')).toBe(true);

    // The dashboard graphs Offpeak/Findings by {service, kind}: the handler must emit exactly that.
    const emf = lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const findings = emf.find((e) => e['kind'] === 'duplicate' && 'Findings' in e)!;
    expect(findings).toMatchObject({ service: serviceName('indexReport'), kind: 'duplicate', Findings: result.byKind.duplicate });
    expect((findings['_aws'] as { CloudWatchMetrics: unknown[] }).CloudWatchMetrics).toEqual([
      { Namespace: METRICS_NAMESPACE, Dimensions: [['service', 'kind']], Metrics: [{ Name: 'Findings', Unit: 'Count' }] },
    ]);
  });

  it('lets slack-notify rebuild the report from the lambda body and post it as Block Kit', async () => {
    const { published } = await publishReport();
    const lambdaBody = (JSON.parse(published.Message!) as { lambda: string }).lambda;
    const result = await slackNotify(snsEvent(lambdaBody, published.Subject!), lambdaContext('offpeak-slack-notify'));
    expect(result.posted).toEqual([{ messageId: 'msg-1', kind: 'report' }]);
    expect(slackPosts).toHaveLength(1);
    const post = slackPosts[0]!;
    expect(post.blocks.length).toBeGreaterThan(0);
    expect(post.blocks.length).toBeLessThanOrEqual(50);
    expect(JSON.stringify(post.blocks)).toContain('idx_orders_customer');
    // The webhook URL is cached after the first fetch (by this test or an earlier one): every fetch asked for it.
    const fetches = secrets.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId);
    expect(fetches.length).toBeGreaterThan(0);
    expect(new Set(fetches)).toEqual(new Set([SLACK_SECRET]));
  });

  it('posts a CloudWatch alarm as a notice: headline, meaning and reason, not raw JSON', async () => {
    const alarm = JSON.stringify({
      AlarmName: 'Offpeak-AlertsNightlyAnalyzeMissing',
      AlarmDescription: 'offpeak: no nightly ANALYZE completed in 26 hours (docs/aws.md#alarms)',
      NewStateValue: 'ALARM',
      NewStateReason: 'Threshold Crossed: no datapoints were received for 26 periods',
      StateChangeTime: '2030-03-05T03:00:00.000+0000',
    });
    const result = await slackNotify(snsEvent(alarm, 'ALARM: "Offpeak-AlertsNightlyAnalyzeMissing"'), lambdaContext('offpeak-slack-notify'));
    expect(result.posted).toEqual([{ messageId: 'msg-1', kind: 'notice' }]);
    const post = slackPosts.at(-1)!;
    expect(post.text).toBe('offpeak alarm ALARM: Offpeak-AlertsNightlyAnalyzeMissing');
    expect(post.blocks[0]).toMatchObject({ type: 'header' });
    const text = JSON.stringify(post.blocks);
    expect(text).toContain('no nightly ANALYZE completed in 26 hours');
    expect(text).toContain('no datapoints were received for 26 periods');
    expect(text).not.toContain('AlarmName');
  });

  it('keeps a long notice full of &, < and > within a 3,000-character section once escaped', async () => {
    const body = JSON.stringify({ reason: '<a & b>'.repeat(2_000) });
    await slackNotify(snsEvent(body, 'offpeak: <run> & notice'), lambdaContext('offpeak-slack-notify'));
    const post = slackPosts.at(-1)!;
    const sections = post.blocks.map((b) => (b as { text?: { text: string } }).text?.text ?? '');
    expect(Math.max(...sections.map((t) => t.length))).toBeLessThanOrEqual(3_000);
    expect(sections[1]).toContain('&lt;a &amp; b&gt;');
    expect(sections[1]).toContain('… (cut)');
    expect(sections[1]).not.toMatch(/&(?!amp;|lt;|gt;)/);
    expect(post.text).toBe('offpeak: &lt;run&gt; &amp; notice');
  });

  it('throws when Slack refuses the post, so the delivery is retried and the alarm fires', async () => {
    slackStatus = 400;
    try {
      await expect(slackNotify(snsEvent('{"event":"window_run_done"}', 'offpeak: window run done'), lambdaContext('offpeak-slack-notify'))).rejects.toThrow(
        /Slack webhook answered 400: invalid_blocks/,
      );
    } finally {
      slackStatus = 200;
    }
  });
});

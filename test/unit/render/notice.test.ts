import { describe, expect, it } from 'vitest';
import { alarmNotice, noticeEnvelope, parseNoticeEnvelope, renderNoticeSlack, renderNoticeText, type Notice } from '../../../lambdas/core/render/notice.ts';
import { assertSlackLimits } from '../../../lambdas/core/render/slack-blocks.ts';
import { cloudWatchAlarmMessage, snsEventOf } from '../../support/cloudwatch-alarm.ts';

const commands = {
  resume: "aws stepfunctions start-execution --state-machine-arn arn:aws:states:eu-west-1:111122223333:stateMachine:W --input '{\"source\":\"manual\"}'",
  rollback: 'offpeak invoke rollback --to -1 --function Offpeak-Rollback --dry-run',
};

const notices: Notice[] = [
  {
    kind: 'run_done',
    database: 'shop',
    runId: 'run-1',
    applied: [{ revision: '202601010001', description: 'create orders', durationMs: 1_500 }, { revision: '202601010002', durationMs: null }],
    durationMs: 600_000,
    remaining: ['202601020001'],
    verification: { checkedIndexes: ['public.idx_a'], problems: [], analyzed: ['public.orders'] },
  },
  {
    kind: 'window_closed',
    database: 'shop',
    runId: 'run-2',
    position: 3,
    total: 8,
    next: { revision: '202601010002', step: 3, description: 'index orders' },
    remaining: ['202601010002', '202601010003'],
    runningBuilds: [
      { index: 'public.idx_orders_code', table: 'public.orders', phase: 'waiting for old snapshots', progress: 'blocks 10/40', blockers: [{ pid: 4242, state: 'idle in transaction', waitingSeconds: 310, query: 'SELECT * FROM orders WHERE <x> & y' }] },
    ],
    commands,
  },
  {
    kind: 'run_failed',
    database: 'shop',
    runId: 'run-3',
    step: 'Advance migrations',
    revision: '202601010002',
    migrationStep: 0,
    sqlState: '23505',
    errorName: 'MigrationFailed',
    message: 'could not create unique index "idx_orders_code_unique"',
    commands,
  },
  { kind: 'alarm', alarmName: 'Offpeak-NightlyAnalyzeMissing', state: 'ALARM', reason: 'no datapoints for 26 periods', description: 'offpeak: no nightly ANALYZE in 26 hours' },
];

describe('notices', () => {
  it.each(notices.map((n) => [n.kind, n] as const))('%s renders as plain text with a one-line subject under 100 characters', (_kind, notice) => {
    const { subject, text } = renderNoticeText(notice);
    expect(subject.length).toBeLessThan(100);
    expect(subject).not.toMatch(/[\r\n]/);
    expect(text).not.toMatch(/^\s*[{[]/m);
  });

  it.each(notices.map((n) => [n.kind, n] as const))('%s renders as Block Kit within Slack limits, escaped', (_kind, notice) => {
    const message = renderNoticeSlack(notice);
    expect(() => assertSlackLimits(message)).not.toThrow();
    expect(JSON.stringify(message)).not.toMatch(/<x>/);
  });

  it('names what the run applied, how long each took, and what remains', () => {
    const { text } = renderNoticeText(notices[0]!);
    expect(text).toContain('202601010001  create orders (1.5 s)');
    expect(text).toContain('202601020001 (newer than this run: a new run takes them)');
    expect(text).toContain('1 index(es) the run built or dropped checked, 0 problem(s)');
  });

  it('says what blocks a running build when the window closed, and how to resume', () => {
    const { text } = renderNoticeText(notices[1]!);
    expect(text).toContain('Still building:\n  public.idx_orders_code on public.orders (waiting for old snapshots: blocks 10/40)');
    expect(text).toContain('waits for pid 4242 [idle in transaction] 310 s: SELECT * FROM orders');
    expect(text).toContain(`To resume now:\n  ${commands.resume}`);
  });

  it('names step, SQLSTATE, message and both commands on a failure, and no stack trace', () => {
    const { text } = renderNoticeText(notices[2]!);
    expect(text).toContain('step: Advance migrations\n  migration: 202601010002 step 1\n  SQLSTATE: 23505');
    expect(text).toContain('MigrationFailed: could not create unique index');
    expect(text).toContain(commands.resume);
    expect(text).toContain(commands.rollback);
  });

  it('travels in the SNS lambda body and back; CloudWatch alarm JSON becomes an alarm notice', () => {
    expect(parseNoticeEnvelope(noticeEnvelope(notices[2]!))).toEqual(notices[2]);
    expect(parseNoticeEnvelope('{"findings":[]}')).toBeUndefined();
    expect(alarmNotice(JSON.stringify({ AlarmName: 'A', NewStateValue: 'OK', NewStateReason: 'r' }))).toMatchObject({ kind: 'alarm', alarmName: 'A', state: 'OK' });
    expect(alarmNotice('not json')).toBeUndefined();
  });

  it('renders a real CloudWatch alarm notification as text and as Block Kit, saying the same things', () => {
    const notice = alarmNotice(JSON.stringify(cloudWatchAlarmMessage))!;

    const { subject, text } = renderNoticeText(notice);
    const slack = renderNoticeSlack(notice);

    expect(subject).toBe(`offpeak alarm ALARM: ${cloudWatchAlarmMessage.AlarmName}`);
    expect(text).toBe(
      [
        `offpeak alarm ALARM: ${cloudWatchAlarmMessage.AlarmName}`,
        '',
        'State:\n  ALARM (was OK) since 2026-12-03T02:15:31.962+0000',
        '',
        `Meaning:\n  ${cloudWatchAlarmMessage.AlarmDescription}`,
        '',
        `Reason:\n  ${cloudWatchAlarmMessage.NewStateReason}`,
        '',
      ].join('\n'),
    );
    assertSlackLimits(slack);
    expect(slack.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: `offpeak alarm ALARM: ${cloudWatchAlarmMessage.AlarmName}`, emoji: false } });
    const sections = slack.blocks.slice(1).map((b) => (b as { text: { text: string } }).text.text);
    expect(sections).toEqual([
      '*State*\nALARM (was OK) since 2026-12-03T02:15:31.962+0000',
      `*Meaning*\n${cloudWatchAlarmMessage.AlarmDescription}`,
      // Slack escapes > in mrkdwn.
      `*Reason*\n${cloudWatchAlarmMessage.NewStateReason.replace(/>/g, '&gt;')}`,
    ]);
  });

  it('reads the alarm out of the fallback (the alarm renderer\'s on-failure destination record) and says it came that way', () => {
    // What Lambda publishes to the operator topic after alarm-notify failed its retries.
    const record = {
      version: '1.0',
      timestamp: '2026-12-03T02:18:40.123Z',
      requestContext: { requestId: 'r-1', functionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:Offpeak-AlarmNotify:$LATEST', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: snsEventOf(JSON.stringify(cloudWatchAlarmMessage)),
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'ReportPublishError', errorMessage: 'SNS refused the alarm notice (KMSDisabledException)' },
    };

    const notice = alarmNotice(JSON.stringify(record))!;

    expect(notice).toMatchObject({ kind: 'alarm', alarmName: cloudWatchAlarmMessage.AlarmName, state: 'ALARM', rendererFailed: 'ReportPublishError: SNS refused the alarm notice (KMSDisabledException)' });
    expect(renderNoticeText(notice).text).toContain('Delivered by the fallback:\n  the alarm renderer failed: ReportPublishError: SNS refused the alarm notice (KMSDisabledException)');
    expect(alarmNotice(JSON.stringify({ ...record, requestPayload: snsEventOf('{"not":"an alarm"}') }))).toBeUndefined();
  });
});

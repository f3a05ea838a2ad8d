import { describe, expect, it } from 'vitest';
import { renderNoticeSlack, renderNoticeText, type Notice } from '../../../lambdas/core/render/notice.ts';
import { assertSlackLimits } from '../../../lambdas/core/render/slack-blocks.ts';

const commands = { resume: 'aws stepfunctions start-execution …', rollback: 'offpeak invoke rollback --to -1 …' };

describe('notices: the load guard', () => {
  it('a window run stopped on critical load says so first, with the time throttled', () => {
    // Prepare
    const notice: Notice = {
      kind: 'window_closed',
      database: 'shop',
      runId: 'run-9',
      position: 2,
      total: 5,
      next: { revision: '202601010003', step: 0, description: 'index orders' },
      remaining: ['202601010003'],
      commands,
      throttledMs: 750_000,
      loadCritical: 'active=52 > 40',
    };

    // Act
    const text = renderNoticeText(notice);
    const slack = renderNoticeSlack(notice);

    // Assess
    expect(text.subject).toBe('offpeak shop: stopped at 2/5 on critical load, resumes next window');
    expect(text.text).toMatch(/Stopped early[\s\S]*the database was over critical-load \(active=52 > 40\)[\s\S]*Progress/);
    expect(text.text).toContain('12.5 min paused over max-load (the pause counts against the window)');
    expect(JSON.stringify(slack)).toContain('active=52 &gt; 40'); // Slack's escaping
    assertSlackLimits(slack);
  });

  it('a finished run reports its throttled time; none when it was never throttled', () => {
    const done: Notice = { kind: 'run_done', database: 'shop', runId: 'run-1', applied: [{ revision: '202601010001' }], remaining: [], throttledMs: 42_000 };
    expect(renderNoticeText(done).text).toContain('42 s paused over max-load');
    expect(renderNoticeText({ ...done, throttledMs: 0 }).text).not.toContain('paused over max-load');
  });
});

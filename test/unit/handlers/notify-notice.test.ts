import { describe, expect, it } from 'vitest';
import { renderNoticeSlack, renderNoticeText } from '../../../lambdas/core/render/notice.ts';
import { noticeFrom } from '../../../lambdas/handlers/notify.ts';

const base = { stateMachineArn: 'arn:aws:states:eu-west-1:111122223333:stateMachine:W', execution: 'arn:aws:states:eu-west-1:111122223333:execution:W:e' };

describe('notify: the state machine state as a notice', () => {
  it('reads a Lambda task failure caught under $.failed: the state, the error type and message, not the trace', () => {
    const cause = JSON.stringify({ errorType: 'ConfigError', errorMessage: 'Environment variable OFFPEAK_DATABASE is required', trace: ['ConfigError: …', '    at databaseConfig (config.ts:40:11)'] });
    const notice = noticeFrom({ ...base, kind: 'run_failed', state: { failed: { plan: { Error: 'ConfigError', Cause: cause } } } }, 'shop');
    expect(notice).toMatchObject({ kind: 'run_failed', step: 'Plan pending migrations', errorName: 'ConfigError', message: 'Environment variable OFFPEAK_DATABASE is required' });
    expect(JSON.stringify(notice)).not.toContain('config.ts:40');
  });

  it('reads an SDK task failure (plain-text cause) and its SQLSTATE when the message carries one', () => {
    const notice = noticeFrom({ ...base, kind: 'run_failed', state: { failed: { snapshot: { Error: 'Rds.InvalidDBClusterStateFault', Cause: 'cluster is not available (SQLState: 55000)' } } } }, 'shop');
    expect(notice).toMatchObject({ step: 'Create cluster snapshot', errorName: 'Rds.InvalidDBClusterStateFault', sqlState: '55000' });
  });

  it('still gives a notice for a state it cannot read', () => {
    const notice = noticeFrom({ ...base, kind: 'run_failed', state: { run: { runId: 42, status: ['?'] } } }, 'shop');
    expect(notice).toMatchObject({ kind: 'run_failed', database: 'shop', step: 'Advance migrations' });
  });

  it('reports the plan proof of a done run, loudly when an expectation does not hold, in text and Slack alike', () => {
    // Prepare: the migrate handler's result, as the state machine carries it (the runner's PlanCheck objects).
    const check = (name: string, outcome: string, extra: Record<string, unknown> = {}) => ({
      revision: '803b93aca2d2', name, index: `idx_${name.replace(/ /g, '_')}`, table: 'public.assistants', outcome,
      usable: outcome === 'held' || outcome === 'not_chosen', chosen: outcome === 'held', planKind: 'generic', defaultPlan: 'Limit > Sort > Seq Scan on assistants', tableRows: 12, reason: null, ...extra,
    });
    const run = {
      runId: 'r-1', status: 'done', runApplied: [{ revision: '803b93aca2d2', description: 'indexes', durationMs: 1000 }], remaining: [],
      planProof: { checks: [check('by user', 'held', { measure: { before: { ms: 2400, timedOut: false, timeoutMs: 30000 }, after: { ms: 60, timedOut: false, timeoutMs: 30000 }, speedup: '40.0x' } }), check('tiny', 'not_chosen'), check('gone', 'unusable', { reason: 'index idx_gone does not exist' })] },
    };

    // Act
    const notice = noticeFrom({ ...base, kind: 'run_done', state: { run } }, 'shop');
    const text = renderNoticeText(notice);
    const slack = JSON.stringify(renderNoticeSlack(notice));

    // Assess
    expect(text.subject).toBe('offpeak shop: window run done, 1 migration(s) applied; 1 plan expectation(s) NOT HOLDING');
    expect(text.text).toMatch(/^Plan proof:\n {2}3 expectation\(s\) checked \(EXPLAIN after the builds and ANALYZE\), 1 not holding$/m);
    expect(text.text).toContain('803b93aca2d2 "by user" → idx_by_user: used (usable and chosen) [measured: before 2400.0 ms, after 60.0 ms, 40.0x faster]');
    expect(text.text).toContain('"tiny" → idx_tiny: usable but NOT chosen: the planner prefers Limit > Sort > Seq Scan on assistants at the current statistics (public.assistants has ~12 row(s))');
    expect(text.text).toContain('PROBLEM: 803b93aca2d2 "gone" → idx_gone: NOT USABLE: index idx_gone does not exist');
    expect(slack).toContain('*Plan proof*');
    expect(slack).toContain('PROBLEM: 803b93aca2d2 \\"gone\\"');
  });
});

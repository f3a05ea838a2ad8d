import { describe, expect, it } from 'vitest';
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
});

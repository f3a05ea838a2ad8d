import { describe, expect, it } from 'vitest';
import { ConfigError, DataApiError, DatabaseError, InterruptedError, MigrationFailedError } from '../../../lambdas/core/errors.ts';
import { classifyFailure } from '../../../scripts/cli/failure.ts';

describe('classifyFailure', () => {
  it('maps errors (and their causes) to the documented exit codes and stable codes', () => {
    expect(classifyFailure(new InterruptedError('202601010000 up step 2'))).toMatchObject({ exitCode: 130, code: 'interrupted' });
    const wrapped = new MigrationFailedError('step failed', { revision: 'r', step: 0, direction: 'up', cause: new InterruptedError('x') });
    expect(classifyFailure(wrapped)).toMatchObject({ exitCode: 130 });
    expect(classifyFailure(new DatabaseError('password authentication failed for user "x"', { sqlState: '28P01' }))).toMatchObject({ exitCode: 5, code: 'authentication_failed' });
    expect(classifyFailure(new DataApiError('Data API: DatabaseNotFoundException: no db', { serviceCode: 'DatabaseNotFoundException' }))).toMatchObject({ exitCode: 5, code: 'unknown_database' });
    expect(classifyFailure(new DatabaseError('permission denied for table t', { sqlState: '42501' }))).toMatchObject({ exitCode: 1, code: 'failed' });
    expect(classifyFailure(new ConfigError('bad thing\nusage: offpeak x'))).toEqual({ exitCode: 2, code: 'bad_usage', message: 'bad thing', hint: 'usage: offpeak x' });
  });
});

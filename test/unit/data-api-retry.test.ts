import { describe, expect, it } from 'vitest';
import { DatabaseResumingException, DatabaseErrorException, StatementTimeoutException } from '@aws-sdk/client-rds-data';
import { backoffDelay, DEFAULT_RETRY_POLICY, withRetry, type RetryPolicy } from '../../lambdas/core/db/data-api-retry.ts';
import { isRetryableBeforeExecution, mapDataApiError, parseSqlState } from '../../lambdas/core/db/data-api-errors.ts';
import {
  DataApiError,
  DatabaseError,
  DatabaseUnavailableError,
  StatementTimeoutError,
  TransactionNotFoundError,
  UnsupportedResultError,
} from '../../lambdas/core/errors.ts';

const meta = { $metadata: {} };
const resuming = () => new DatabaseResumingException({ message: 'resuming', ...meta });
const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000, maxTotalDelayMs: 10_000 };

function recorder() {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms: number) => void sleeps.push(ms) };
}

describe('withRetry', () => {
  it('retries failures that happened before execution with growing, jittered delays, then succeeds', async () => {
    // Prepare
    const { sleeps, sleep } = recorder();
    let calls = 0;
    const call = async () => {
      calls++;
      if (calls < 4) throw resuming();
      return 'ok';
    };

    // Act
    const result = await withRetry(call, { policy, sleep, random: () => 0.5, isRetryable: isRetryableBeforeExecution });

    // Assess
    expect(result).toBe('ok');
    expect(calls).toBe(4);
    expect(sleeps).toEqual([75, 150, 300]);
  });

  it('gives up after maxAttempts and rethrows the last error', async () => {
    const { sleeps, sleep } = recorder();
    let calls = 0;
    const failing = async () => {
      calls++;
      throw resuming();
    };

    await expect(withRetry(failing, { policy, sleep, random: () => 1, isRetryable: isRetryableBeforeExecution })).rejects.toBeInstanceOf(
      DatabaseResumingException,
    );
    expect(calls).toBe(5);
    expect(sleeps).toEqual([100, 200, 400, 800]);
  });

  it('stops before the total delay budget is exceeded', async () => {
    const { sleeps, sleep } = recorder();
    const tight = { ...policy, maxAttempts: 100, maxTotalDelayMs: 650 };

    await expect(
      withRetry(() => Promise.reject(resuming()), { policy: tight, sleep, random: () => 1, isRetryable: isRetryableBeforeExecution }),
    ).rejects.toBeInstanceOf(DatabaseResumingException);
    expect(sleeps).toEqual([100, 200]);
  });

  it('never retries a timeout, a lost response or an SQL error: they may have run', async () => {
    const { sleeps, sleep } = recorder();
    for (const error of [
      new StatementTimeoutException({ message: 'timeout', ...meta }),
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      Object.assign(new Error('Request timed out'), { name: 'TimeoutError' }),
      new DatabaseErrorException({ message: 'boom', ...meta }),
    ]) {
      let calls = 0;
      await expect(
        withRetry(
          async () => {
            calls++;
            throw error;
          },
          { policy, sleep, isRetryable: isRetryableBeforeExecution },
        ),
      ).rejects.toBe(error);
      expect(calls).toBe(1);
    }
    expect(sleeps).toEqual([]);
  });

  it('keeps every default delay within bounds', () => {
    for (let retry = 1; retry < DEFAULT_RETRY_POLICY.maxAttempts; retry++) {
      const low = backoffDelay(DEFAULT_RETRY_POLICY, retry, () => 0);
      const high = backoffDelay(DEFAULT_RETRY_POLICY, retry, () => 1);
      expect(low).toBeGreaterThan(0);
      expect(high).toBeLessThanOrEqual(DEFAULT_RETRY_POLICY.maxDelayMs);
    }
  });
});

describe('mapDataApiError', () => {
  const service = (name: string, message: string) => Object.assign(new Error(message), { name, $fault: 'client', $metadata: {} });

  it('keeps PostgreSQL message and SQLSTATE from DatabaseErrorException', () => {
    // Prepare
    const cause = service('DatabaseErrorException', 'ERROR: relation "nope" does not exist\n  Position: 15; SQLState: 42P01');

    // Act
    const mapped = mapDataApiError(cause, 'ExecuteStatement');

    // Assess
    expect(mapped).toBeInstanceOf(DatabaseError);
    expect((mapped as DatabaseError).sqlState).toBe('42P01');
    expect(mapped.message).toContain('relation "nope" does not exist');
    expect(mapped.cause).toBe(cause);
  });

  it('maps each service exception to its offpeak class, with cause', () => {
    const cases: [string, new (...args: never[]) => Error][] = [
      ['StatementTimeoutException', StatementTimeoutError],
      ['DatabaseResumingException', DatabaseUnavailableError],
      ['DatabaseUnavailableException', DatabaseUnavailableError],
      ['ServiceUnavailableError', DatabaseUnavailableError],
      ['TransactionNotFoundException', TransactionNotFoundError],
      ['UnsupportedResultException', UnsupportedResultError],
      ['AccessDeniedException', DataApiError],
    ];
    for (const [name, cls] of cases) {
      const cause = service(name, 'x');
      const mapped = mapDataApiError(cause, 'ExecuteStatement');
      expect(mapped, name).toBeInstanceOf(cls);
      expect(mapped.cause).toBe(cause);
    }
    expect((mapDataApiError(service('AccessDeniedException', 'no'), 'op') as DataApiError).serviceCode).toBe('AccessDeniedException');
  });

  it('says a lost response has an unknown outcome, and a refused connection was never sent', () => {
    const lost = mapDataApiError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'ExecuteStatement');
    const refused = mapDataApiError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'ExecuteStatement');
    expect(lost).toBeInstanceOf(DatabaseUnavailableError);
    expect((lost as DatabaseUnavailableError).context['outcome']).toBe('unknown');
    expect(lost.message).toMatch(/may or may not have run/);
    expect((refused as DatabaseUnavailableError).context['outcome']).toBe('not_sent');
  });

  it('parses SQLSTATE case-insensitively and only when present', () => {
    expect(parseSqlState('... SQLState: 23505')).toBe('23505');
    expect(parseSqlState('... sqlstate: 55p03')).toBe('55P03');
    expect(parseSqlState('... SQLSTATE:40P01')).toBe('40P01');
    expect(parseSqlState('no state here')).toBeUndefined();
  });
});

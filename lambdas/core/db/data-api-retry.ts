/**
 * Retry policy for Data API calls. Only failures the service guarantees happened
 * before the statement ran are retried (the caller passes that predicate); a
 * timeout or a lost response may hide a committed write, so it is never retried here.
 */

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  maxAttempts: number;
  /** Backoff before the second attempt; doubles each time. */
  baseDelayMs: number;
  /** Cap of one backoff. */
  maxDelayMs: number;
  /** Cap of all backoffs together: past it the last error is thrown. */
  maxTotalDelayMs: number;
}

/**
 * Aurora Serverless v2 resuming from zero capacity takes about 15 s, so the budget
 * covers that with margin while still failing inside a Lambda's lifetime.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxTotalDelayMs: 45_000,
};

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with "equal jitter": half fixed, half random, so retries spread but never collapse to 0. */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export interface RetryOptions {
  policy: RetryPolicy;
  sleep: Sleep;
  random?: () => number;
  isRetryable: (error: unknown) => boolean;
  /** Told about each retry, e.g. for a log event. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

export async function withRetry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { policy, sleep, isRetryable } = options;
  let slept = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isRetryable(error) || attempt >= policy.maxAttempts) throw error;
      const delayMs = backoffDelay(policy, attempt, options.random);
      if (slept + delayMs > policy.maxTotalDelayMs) throw error;
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs);
      slept += delayMs;
    }
  }
}

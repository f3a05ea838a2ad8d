/**
 * Retry policy for Data API calls. Failures the service guarantees happened before the statement ran
 * (resuming, unavailable) are retried for any call, with backoff; a lost response (a reset, a timeout, a
 * 5xx) may hide a committed write, so it is retried only for a call marked idempotent (`SqlQuery.idempotent`).
 * Everything else is reconciled by the caller (the runner reads the ledger and the catalog).
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

/** Retries only what `isRetryable` says failed before execution, within the policy's attempts and total delay. */
export function withRetry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { isRetryable, ...rest } = options;
  return withFaultRetry(call, { ...rest, idempotent: false, classify: (error) => (isRetryable(error) ? 'before_execution' : undefined) });
}

/**
 * How a call failed, as far as retrying goes:
 * - `before_execution`: the service refused it before running the statement (resuming, unavailable): always safe to retry;
 * - `unreachable`: the request provably never left (connection refused, DNS): safe to retry, with a smaller bound,
 *   since an endpoint that cannot be reached rarely comes back within seconds;
 * - `outcome_unknown`: the request may have run and its response was lost (reset, timeout, a 5xx): retried only
 *   for an idempotent statement.
 */
export type FaultKind = 'before_execution' | 'unreachable' | 'outcome_unknown';

export interface FaultRetryOptions {
  policy: RetryPolicy;
  sleep: Sleep;
  random?: () => number;
  /** Clock for the deadline, injectable for tests. Default Date.now. */
  now?: () => number;
  /**
   * Retries end when the next attempt would start past this (the advance call's deadline). Without one, a
   * resuming database is waited out within `policy.maxAttempts` and `policy.maxTotalDelayMs`; with one, within it.
   */
  deadline?: Date | undefined;
  /** Whether running the call twice is harmless: only then is an `outcome_unknown` failure retried. */
  idempotent: boolean;
  /** The failure's kind, or undefined for one never retried (an SQL error, a statement timeout). */
  classify: (error: unknown) => FaultKind | undefined;
  /** Retries of lost responses (idempotent calls only) and of unreachable endpoints. Default 10 and 3. */
  bounds?: { lost?: number; unreachable?: number };
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown; kind: FaultKind }) => void;
}

/** Lost responses retried for an idempotent call; a separate, smaller bound for an unreachable endpoint. */
export const DEFAULT_FAULT_BOUNDS = { lost: 10, unreachable: 3 } as const;

export async function withFaultRetry<T>(call: () => Promise<T>, options: FaultRetryOptions): Promise<T> {
  const { policy, sleep } = options;
  const now = options.now ?? Date.now;
  const bounds = { ...DEFAULT_FAULT_BOUNDS, ...options.bounds };
  const retries: Record<FaultKind, number> = { before_execution: 0, unreachable: 0, outcome_unknown: 0 };
  let slept = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const kind = options.classify(error);
      if (kind === undefined) throw error;
      if (kind === 'outcome_unknown' && (!options.idempotent || retries.outcome_unknown >= bounds.lost)) throw error;
      if (kind === 'unreachable' && retries.unreachable >= bounds.unreachable) throw error;
      if (kind === 'before_execution' && !options.deadline && retries.before_execution + 1 >= policy.maxAttempts) throw error;
      retries[kind]++;
      const delayMs = backoffDelay(policy, retries[kind], options.random);
      if (options.deadline ? now() + delayMs >= options.deadline.getTime() : slept + delayMs > policy.maxTotalDelayMs) throw error;
      options.onRetry?.({ attempt, delayMs, error, kind });
      await sleep(delayMs);
      slept += delayMs;
    }
  }
}

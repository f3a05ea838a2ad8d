import type { Context } from 'aws-lambda';

/**
 * Time kept back from the Lambda timeout: the longest single Data API call
 * (the SDK's 70 s request timeout, above the service's 45 s) plus a few seconds
 * to record the result. The runner stops between units before this deadline,
 * so an invocation ends with a result instead of being killed mid-call.
 */
export const INVOCATION_SAFETY_MARGIN_MS = 75_000;

export function invocationDeadline(context: Pick<Context, 'getRemainingTimeInMillis'>, now: Date = new Date()): Date {
  return new Date(now.getTime() + Math.max(0, context.getRemainingTimeInMillis() - INVOCATION_SAFETY_MARGIN_MS));
}

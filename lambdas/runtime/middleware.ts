import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { OffpeakError } from '../core/errors.ts';
import { logger, metrics } from './observability.ts';
import { parseEvent } from './validation.ts';

/**
 * What a handler body gets: the validated event, the Lambda context, and middy's abort signal (aborted
 * `timeoutEarlyInMillis` before the Lambda's own timeout, when the handler asked for an early timeout).
 */
export type HandlerBody<E, R> = (event: E, context: Context, options: { signal: AbortSignal }) => Promise<R>;

/**
 * For the migrate and rollback handlers: middy aborts the run's signal this long before the Lambda's timeout,
 * enough to cancel a statement, roll back and release the lease (the runner stops on its own at its deadline
 * before that, between statements; this is for a statement that runs on past it).
 */
export const RUN_EARLY_TIMEOUT_MS = 10_000;

export interface HandlerOptions {
  /**
   * Abort the body's signal this long before the Lambda's timeout, and wait for the body to return what it
   * can (a run that cancels its statement, rolls back and releases its lease) instead of being killed.
   */
  timeoutEarlyInMillis?: number;
}

/**
 * Wraps a handler body in offpeak's middy stack: Powertools logger (Lambda
 * context in every line) and metrics (flushed as EMF after each invocation),
 * validation of the raw event before anything else runs, and one structured
 * error log. Errors are rethrown unchanged so Lambda reports the failure and the
 * Errors alarm fires.
 */
export function offpeakHandler<S extends z.ZodType, R>(name: string, schema: S, body: HandlerBody<z.output<S>, R>, options: HandlerOptions = {}) {
  // Early timeout: abort the signal, then keep waiting for the body (its result wins the race, as the early
  // response never settles), so the cleanup it does on the signal finishes before Lambda's own timeout.
  const early = options.timeoutEarlyInMillis ? { timeoutEarlyInMillis: options.timeoutEarlyInMillis, timeoutEarlyResponse: () => new Promise<never>(() => undefined) } : {};
  return middy<unknown, R, Error, Context>(early)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use({
      onError: async function logFailure(request) {
        const error = request.error;
        logger.error({
          message: 'handler_failed',
          handler: name,
          errorName: error?.name,
          errorMessage: error?.message,
          context: error instanceof OffpeakError ? error.context : undefined,
        });
      },
    })
    .handler(async function validatedHandler(event: unknown, context: Context, handlerOptions?: { signal: AbortSignal }): Promise<R> {
      const parsed = parseEvent(name, schema, event);
      return body(parsed, context, { signal: handlerOptions?.signal ?? new AbortController().signal });
    });
}

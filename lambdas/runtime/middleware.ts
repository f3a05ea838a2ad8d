import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { OffpeakError } from '../core/errors.ts';
import { logger, metrics } from './observability.ts';
import { parseEvent } from './validation.ts';

/** What a handler body gets: the validated event and the Lambda context. */
export type HandlerBody<E, R> = (event: E, context: Context) => Promise<R>;

/**
 * Wraps a handler body in offpeak's middy stack: Powertools logger (Lambda
 * context in every line) and metrics (flushed as EMF after each invocation),
 * validation of the raw event before anything else runs, and one structured
 * error log. Errors are rethrown unchanged so Lambda reports the failure and the
 * Errors alarm fires.
 */
export function offpeakHandler<S extends z.ZodType, R>(name: string, schema: S, body: HandlerBody<z.output<S>, R>) {
  return middy<unknown, R, Error, Context>()
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
    .handler(async function validatedHandler(event: unknown, context: Context): Promise<R> {
      const parsed = parseEvent(name, schema, event);
      return body(parsed, context);
    });
}

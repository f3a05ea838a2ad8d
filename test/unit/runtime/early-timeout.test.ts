import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { offpeakHandler } from '../../../lambdas/runtime/middleware.ts';
import { lambdaContext } from '../handlers/lambda-context.ts';

/**
 * middy's early timeout (migrate and rollback): the body's signal is aborted `timeoutEarlyInMillis` before
 * the Lambda's timeout, and the invocation returns what the body returns after its cleanup (the runner's
 * `interrupted` result), never middy's TimeoutError.
 */
describe('offpeakHandler early timeout', () => {
  it('aborts the body’s signal before the Lambda’s timeout and returns the body’s result after its cleanup', async () => {
    // Prepare: 10.2 s left, early timeout 10 s: the signal aborts after about 200 ms
    process.env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';
    process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';
    let abortedAfterMs = -1;
    const handler = offpeakHandler(
      'early',
      z.object({}),
      async (_event, _context, { signal }) => {
        const started = Date.now();
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        abortedAfterMs = Date.now() - started;
        await new Promise((r) => setTimeout(r, 50)); // cleanup: cancel, roll back, release the lease
        return { status: 'interrupted-then-cleaned' };
      },
      { timeoutEarlyInMillis: 10_000 },
    );

    // Act
    const result = await handler({}, lambdaContext('early', 10_200));

    // Assess
    expect(result).toEqual({ status: 'interrupted-then-cleaned' });
    expect(abortedAfterMs).toBeGreaterThanOrEqual(150);
  });

  it('leaves a body without an early timeout alone', async () => {
    // Act
    let aborted: boolean | undefined;
    const handler = offpeakHandler('plain', z.object({}), async (_event, _context, { signal }) => {
      await new Promise((r) => setTimeout(r, 100));
      aborted = signal.aborted;
      return 'ok';
    });
    const result = await handler({}, lambdaContext('plain', 10_050));

    // Assess
    expect(result).toBe('ok');
    expect(aborted).toBe(false);
  });
});

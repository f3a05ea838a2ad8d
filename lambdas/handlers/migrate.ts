import { z } from 'zod';
import { offpeakHandler } from '../runtime/middleware.ts';

export const handler = offpeakHandler('migrate', z.strictObject({}), async () => {
  throw new Error('not wired yet');
});

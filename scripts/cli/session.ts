import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { openTarget, resolveTarget, type TargetValues } from './target.ts';

/** Opens the verb's target database, runs `fn`, and always closes the connection. */
export async function withClient<T>(values: TargetValues, env: NodeJS.ProcessEnv, cwd: string, fn: (client: SqlClient) => Promise<T>): Promise<T> {
  const client = await openTarget(resolveTarget(values, env, cwd));
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

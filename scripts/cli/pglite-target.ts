import { mkdirSync } from 'node:fs';
import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { createPgliteClient, openPglite } from '../../lambdas/core/db/pglite.ts';

// TODO(foundation): take the data-directory lock before opening (two processes must never share it).
export async function openPgliteClient(target: { dataDir: string; waitForLock: boolean }): Promise<SqlClient> {
  mkdirSync(target.dataDir, { recursive: true });
  const db = await openPglite({ dataDir: target.dataDir });
  return createPgliteClient(db);
}

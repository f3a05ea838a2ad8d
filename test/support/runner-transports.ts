import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from './database.ts';
import { startTestDataApi } from './data-api.ts';

/** Where a runner's statements go, and the database behind it, for preparing and assessing. */
export interface RunnerTransport {
  /** The client the runner uses. */
  runner: SqlClient;
  /** The test database itself (its client goes straight to it). */
  db: TestDatabase;
  /** 'pg' or 'pglite', prefixed with 'data-api/' when the runner goes through the local server. */
  kind: string;
  dispose(): Promise<void>;
}

/**
 * The runner's two paths, for `describe.each`: straight to the test database (pg or PGlite), and through
 * offpeak's Data API adapter and the local server with a 1 s statement timeout on PostgreSQL, so long
 * statements take the still-running path for real.
 */
export const runnerTransports: Array<[string, () => Promise<RunnerTransport>]> = [
  [
    'directly',
    async () => {
      const db = await createTestDatabase();
      return { runner: db.client, db, kind: db.kind, dispose: () => db.dispose() };
    },
  ],
  [
    'through the Data API (1 s statement timeout)',
    async () => {
      // 1 s on PostgreSQL, where a statement that outlives its call keeps running and is followed. PGlite
      // cannot cancel and runs every call on the JS thread (the reply comes after the statement anyway),
      // so a short limit there tests nothing and only fails slow statements under load.
      const api = await startTestDataApi({ statementTimeoutMs: testDatabaseUrl ? 1000 : 45_000 });
      return { runner: api.adapter(), db: api.db, kind: `data-api/${api.db.kind}`, dispose: () => api.dispose() };
    },
  ],
];

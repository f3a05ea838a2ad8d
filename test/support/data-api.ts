import { RDSDataClient } from '@aws-sdk/client-rds-data';
import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { createDataApiClient } from '../../lambdas/core/db/data-api.ts';
import { startDataApiServer } from '../../scripts/data-api/server.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

/**
 * The local Data API server over this test file's scratch database (PGlite in
 * memory, or a fresh PostgreSQL database when TEST_DATABASE_URL is set), with a
 * real RDSDataClient pointed at it.
 *
 * On PGlite the server holds the one connection for the whole of an open Data
 * API transaction: don't use `db.client` while a transaction is open (its calls
 * would run inside that transaction), and any other Data API call made meanwhile
 * is refused at once with DatabaseUnavailableException (docs/data-api-server.md).
 */
export interface TestDataApi {
  db: TestDatabase;
  endpoint: string;
  /** The server's fault injector. */
  faults: import('../../scripts/data-api/faults.ts').FaultInjector;
  /** Real client: dummy credentials, us-east-1, no retries. */
  sdk: RDSDataClient;
  resourceArn: string;
  secretArn: string;
  database: string;
  /** offpeak's Data API adapter over `sdk` (shares it: disposing this fixture destroys it). */
  adapter(options?: { formatRecordsAs?: 'JSON' }): SqlClient;
  dispose(): Promise<void>;
}

export interface TestDataApiOptions {
  statementTimeoutMs?: number;
  transactionIdleTimeoutMs?: number;
  transactionMaxLifetimeMs?: number;
  maxResponseBytes?: number;
  /** Injected faults (scripts/data-api/faults.ts), seed and clock. */
  faults?: string;
  seed?: number;
  clock?: () => number;
}

export const testResourceArn = 'arn:aws:rds:us-east-1:123456789012:cluster:offpeak-local';
export const testSecretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:offpeak-local-AbCdEf';

export function createLocalRdsDataClient(endpoint: string): RDSDataClient {
  return new RDSDataClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
    maxAttempts: 1,
  });
}

export async function startTestDataApi(options: TestDataApiOptions = {}): Promise<TestDataApi> {
  const db = await createTestDatabase();
  try {
    const server = await startDataApiServer({
      ...(db.kind === 'pg' ? { databaseUrl: db.url! } : { pglite: db.pglite! }),
      ...options,
    });
    const sdk = createLocalRdsDataClient(server.endpoint);
    const database = db.kind === 'pg' ? decodeURIComponent(new URL(db.url!).pathname.slice(1)) : 'postgres';
    return {
      db,
      endpoint: server.endpoint,
      faults: server.faults,
      sdk,
      resourceArn: testResourceArn,
      secretArn: testSecretArn,
      database,
      adapter: (options = {}) => createDataApiClient({ client: sdk, resourceArn: testResourceArn, secretArn: testSecretArn, database, ...options }),
      async dispose() {
        sdk.destroy();
        await server.close();
        await db.dispose();
      },
    };
  } catch (error) {
    await db.dispose();
    throw error;
  }
}

import { createDataApiClient, createRdsDataSdkClient } from '../core/db/data-api.ts';
import type { SqlClient } from '../core/db/client.ts';
import { databaseConfig } from './config.ts';
import { EnvName } from './env-names.ts';

/**
 * The RDS Data API SDK client, once per container. DATA_API_ENDPOINT is for local
 * and test use only (the local Data API server); infra never sets it.
 */
export const rdsDataClient = createRdsDataSdkClient({ endpoint: process.env[EnvName.dataApiEndpoint] || undefined });

/**
 * A SqlClient for this invocation over the shared SDK client. Reading config here
 * (not at import) lets a missing variable fail the invocation with its name.
 * `resourceArn` points it at another cluster with the same secret and database: a
 * rehearsal's fast clone, which keeps the source's users.
 */
export function openDatabase(override: { resourceArn?: string } = {}): { client: SqlClient; ledgerSchema: string; database: string } {
  const config = databaseConfig();
  const client = createDataApiClient({
    client: rdsDataClient,
    resourceArn: override.resourceArn ?? config.resourceArn,
    secretArn: config.secretArn,
    database: config.database,
  });
  return { client, ledgerSchema: config.ledgerSchema, database: config.database };
}

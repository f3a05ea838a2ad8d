import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { ConfigError } from '../../lambdas/core/errors.ts';

// TODO(foundation): build an RDSDataClient (endpoint override for the local server) and the data-api adapter.
export async function openDataApiTarget(_target: {
  endpoint: string | undefined;
  resourceArn: string;
  secretArn: string;
  database: string;
}): Promise<SqlClient> {
  throw new ConfigError('the Data API target is not available yet');
}

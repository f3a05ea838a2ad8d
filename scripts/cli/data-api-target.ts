import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { createDataApiClient, createRdsDataSdkClient } from '../../lambdas/core/db/data-api.ts';

/** The Data API target: a local server when `endpoint` is given, otherwise the real service in AWS_REGION, or the region of the cluster's ARN. */
export async function openDataApiTarget(target: {
  endpoint: string | undefined;
  region: string | undefined;
  resourceArn: string;
  secretArn: string;
  database: string;
}): Promise<SqlClient> {
  const client = createRdsDataSdkClient({ endpoint: target.endpoint, ...(target.region ? { region: target.region } : {}) });
  return createDataApiClient({
    client,
    resourceArn: target.resourceArn,
    secretArn: target.secretArn,
    database: target.database,
    ownsClient: true,
  });
}

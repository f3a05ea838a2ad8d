import { ExecuteStatementCommand, type ExecuteStatementCommandInput, type ExecuteStatementCommandOutput } from '@aws-sdk/client-rds-data';
import type { TestDataApi } from '../../support/data-api.ts';

type ExecuteInput = Omit<ExecuteStatementCommandInput, 'resourceArn' | 'secretArn' | 'database'>;

/** ExecuteStatement on the plain SDK client, with the fixture's ARNs and database filled in. */
export function execute(api: TestDataApi, input: ExecuteInput): Promise<ExecuteStatementCommandOutput> {
  return api.sdk.send(
    new ExecuteStatementCommand({ resourceArn: api.resourceArn, secretArn: api.secretArn, database: api.database, ...input }),
  );
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Raw HTTP to the server, for bodies the SDK would never send. */
export async function post(api: TestDataApi, path: string, body: string) {
  const response = await fetch(`${api.endpoint}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), body: (await response.json()) as Record<string, unknown> };
}

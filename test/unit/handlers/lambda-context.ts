import type { Context } from 'aws-lambda';

/** A Lambda context for in-process invocations, with a chosen time budget. */
export function lambdaContext(functionName: string, remainingMs = 900_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Environment for handlers talking to the local Data API server; quiet logs and no EMF on stdout. */
export function handlerEnv(api: { endpoint: string; resourceArn: string; secretArn: string; database: string }): Record<string, string> {
  return {
    DATA_API_ENDPOINT: api.endpoint,
    OFFPEAK_CLUSTER_ARN: api.resourceArn,
    OFFPEAK_SECRET_ARN: api.secretArn,
    OFFPEAK_DATABASE: api.database,
    OFFPEAK_WINDOW_MINUTES: '120',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
  };
}

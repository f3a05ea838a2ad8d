import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';

/** The CloudWatch client, once per container; only the plan handler's bundle imports it. */
export const cloudWatchClient = new CloudWatchClient({});

/** What pre-flight gets as free disk: bytes and where they come from, or undefined and why not. */
export type FreeStorageReading = { bytes: number; source: string } | { bytes: undefined; warning: string };

/** How far back the reader looks for a datapoint; RDS publishes FreeLocalStorage every minute, aggregated here to 5. */
const LOOKBACK_MS = 15 * 60_000;

/** The cluster identifier from an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<id>); undefined for anything else. */
export function clusterIdentifier(clusterArn: string): string | undefined {
  const parts = clusterArn.split(':');
  return parts.length === 7 && parts[0] === 'arn' && parts[2] === 'rds' && parts[5] === 'cluster' && parts[6] ? parts[6] : undefined;
}

/**
 * The writer's FreeLocalStorage (the local disk temporary files and sort spills use on Aurora PostgreSQL):
 * the minimum over 5-minute periods in the last 15 minutes, latest period first. No datapoint, an ARN that
 * names no cluster, or a CloudWatch error gives undefined with a warning: a plan never fails for it.
 */
export async function writerFreeLocalStorage(cloudwatch: CloudWatchClient, clusterArn: string, now: Date = new Date()): Promise<FreeStorageReading> {
  const cluster = clusterIdentifier(clusterArn);
  if (!cluster) return { bytes: undefined, warning: `free space: unknown (CloudWatch: ${clusterArn} is not an Aurora cluster ARN)` };
  try {
    const out = await cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(now.getTime() - LOOKBACK_MS),
        EndTime: now,
        ScanBy: 'TimestampDescending',
        MetricDataQueries: [
          {
            Id: 'free',
            ReturnData: true,
            MetricStat: {
              Metric: {
                Namespace: 'AWS/RDS',
                MetricName: 'FreeLocalStorage',
                Dimensions: [
                  { Name: 'DBClusterIdentifier', Value: cluster },
                  { Name: 'Role', Value: 'WRITER' },
                ],
              },
              Period: 300,
              Stat: 'Minimum',
            },
          },
        ],
      }),
    );
    const result = out.MetricDataResults?.find((r) => r.Id === 'free');
    const values = result?.Values ?? [];
    const stamps = result?.Timestamps ?? [];
    // Newest first (ScanBy), but pick the latest by timestamp so the order CloudWatch answers in does not matter.
    let latest = -1;
    for (let i = 0; i < values.length; i++) if (stamps[i] && (latest < 0 || stamps[i]!.getTime() > stamps[latest]!.getTime())) latest = i;
    const value = latest >= 0 ? values[latest] : undefined;
    if (value === undefined || !Number.isFinite(value)) {
      return { bytes: undefined, warning: `free space: unknown (CloudWatch: no FreeLocalStorage datapoint for cluster ${cluster}, role WRITER, in the last 15 minutes)` };
    }
    return { bytes: value, source: `FreeLocalStorage of the writer of ${cluster}, CloudWatch minimum at ${stamps[latest]!.toISOString()}` };
  } catch (error) {
    const e = error as Error;
    return { bytes: undefined, warning: `free space: unknown (CloudWatch: ${e.name}: ${e.message})` };
  }
}

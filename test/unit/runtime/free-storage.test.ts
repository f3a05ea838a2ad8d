import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { clusterIdentifier, writerFreeLocalStorage } from '../../../lambdas/runtime/free-storage.ts';

const clusterArn = 'arn:aws:rds:eu-west-1:123456789012:cluster:orders-prod';
const now = new Date('2030-03-04T23:00:00Z');
const cwMock = mockClient(CloudWatchClient);
const cloudwatch = new CloudWatchClient({ region: 'eu-west-1' });

afterEach(() => {
  cwMock.reset();
});

describe('writerFreeLocalStorage', () => {
  it('asks CloudWatch for the writer\'s FreeLocalStorage minimum over 5-minute periods of the last 15 minutes, and takes the latest datapoint', async () => {
    // Prepare: two periods, answered oldest first to show the latest is picked by timestamp
    cwMock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'free',
          Values: [50e9, 42e9],
          Timestamps: [new Date('2030-03-04T22:45:00Z'), new Date('2030-03-04T22:50:00Z')],
          StatusCode: 'Complete',
        },
      ],
    });
    // Act
    const reading = await writerFreeLocalStorage(cloudwatch, clusterArn, now);
    // Assess
    expect(reading).toEqual({ bytes: 42e9, source: 'FreeLocalStorage of the writer of orders-prod, CloudWatch minimum at 2030-03-04T22:50:00.000Z' });
    const calls = cwMock.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({
      StartTime: new Date('2030-03-04T22:45:00Z'),
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
                { Name: 'DBClusterIdentifier', Value: 'orders-prod' },
                { Name: 'Role', Value: 'WRITER' },
              ],
            },
            Period: 300,
            Stat: 'Minimum',
          },
        },
      ],
    });
  });

  it('says free space is unknown when CloudWatch has no datapoint', async () => {
    cwMock.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'free', Values: [], Timestamps: [], StatusCode: 'Complete' }] });
    const reading = await writerFreeLocalStorage(cloudwatch, clusterArn, now);
    expect(reading).toEqual({
      bytes: undefined,
      warning: 'free space: unknown (CloudWatch: no FreeLocalStorage datapoint for cluster orders-prod, role WRITER, in the last 15 minutes)',
    });
  });

  it('says free space is unknown, with the error, when CloudWatch refuses (never throws)', async () => {
    cwMock
      .on(GetMetricDataCommand)
      .rejects(Object.assign(new Error('User is not authorized to perform: cloudwatch:GetMetricData'), { name: 'AccessDeniedException', $fault: 'client', $metadata: {} }));
    const reading = await writerFreeLocalStorage(cloudwatch, clusterArn, now);
    expect(reading).toEqual({
      bytes: undefined,
      warning: 'free space: unknown (CloudWatch: AccessDeniedException: User is not authorized to perform: cloudwatch:GetMetricData)',
    });
  });

  it('does not call CloudWatch for an ARN that names no Aurora cluster', async () => {
    const reading = await writerFreeLocalStorage(cloudwatch, 'arn:aws:rds:eu-west-1:123456789012:db:orders-1', now);
    expect(reading).toEqual({ bytes: undefined, warning: 'free space: unknown (CloudWatch: arn:aws:rds:eu-west-1:123456789012:db:orders-1 is not an Aurora cluster ARN)' });
    expect(cwMock.commandCalls(GetMetricDataCommand)).toHaveLength(0);
  });
});

describe('clusterIdentifier', () => {
  it('takes the identifier from a cluster ARN, in any partition', () => {
    expect(clusterIdentifier(clusterArn)).toBe('orders-prod');
    expect(clusterIdentifier('arn:aws-cn:rds:cn-north-1:123456789012:cluster:c1')).toBe('c1');
    expect(clusterIdentifier('arn:aws:rds:eu-west-1:123456789012:cluster:')).toBeUndefined();
    expect(clusterIdentifier('orders-prod')).toBeUndefined();
  });
});

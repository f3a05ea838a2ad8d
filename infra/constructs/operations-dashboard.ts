import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { FINDING_KINDS } from '../../lambdas/core/health/report.ts';
import { FINDING_KIND_DIMENSION, METRICS_NAMESPACE, MetricName } from '../../lambdas/runtime/env-names.ts';
import { serviceName, type OffpeakFunction } from './offpeak-function.ts';

export interface OperationsDashboardProps {
  stateMachine: sfn.IStateMachine;
  functions: Record<string, OffpeakFunction>;
}

/**
 * Powertools adds `service` to every EMF metric, so the metrics here carry it too.
 * Runs, durations and findings by kind, from the state machine and the handlers' EMF metrics. */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const period = Duration.days(1);
    const emf = (metricName: string, service: string, dimensions: Record<string, string> = {}, label?: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service, ...dimensions },
        statistic: cloudwatch.Stats.SUM,
        period,
        ...(label ? { label } : {}),
      });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(14),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Window runs',
        width: 12,
        left: [
          props.stateMachine.metricStarted({ period, statistic: cloudwatch.Stats.SUM, label: 'started' }),
          props.stateMachine.metricSucceeded({ period, statistic: cloudwatch.Stats.SUM, label: 'succeeded' }),
          props.stateMachine.metricFailed({ period, statistic: cloudwatch.Stats.SUM, label: 'failed' }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Window run duration',
        width: 12,
        left: [props.stateMachine.metricTime({ period, statistic: cloudwatch.Stats.MAXIMUM, label: 'max' })],
      }),
    );
    const migrateService = serviceName('migrate');
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Migrations',
        width: 12,
        left: [
          emf(MetricName.migrationsApplied, migrateService, {}, 'applied'),
          emf(MetricName.runsCompleted, migrateService, {}, 'runs done'),
          emf(MetricName.runsPausedByWindow, migrateService, {}, 'paused by window'),
          emf(MetricName.runsFailed, migrateService, {}, 'failed'),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Handler durations (p90)',
        width: 12,
        left: Object.entries(props.functions).map(([name, fn]) =>
          fn.function.metricDuration({ period, statistic: cloudwatch.Stats.percentile(90), label: name }),
        ),
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Index-health findings by kind',
        width: 24,
        left: FINDING_KINDS.map((kind) =>
          emf(MetricName.findings, serviceName('indexReport'), { [FINDING_KIND_DIMENSION]: kind }, kind),
        ),
      }),
    );
  }
}

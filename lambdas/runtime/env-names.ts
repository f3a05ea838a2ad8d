/**
 * Environment variable names shared by infra (which sets them) and the handlers
 * (which read them through ./config.ts), so the two can never drift apart.
 */
export const EnvName = {
  /** ARN of the Aurora cluster the Data API talks to. */
  clusterArn: 'OFFPEAK_CLUSTER_ARN',
  /** ARN of the Secrets Manager secret holding the database credentials. */
  secretArn: 'OFFPEAK_SECRET_ARN',
  databaseName: 'OFFPEAK_DATABASE',
  /** Schema holding the ledger, lease, runs and snapshots. */
  ledgerSchema: 'OFFPEAK_LEDGER_SCHEMA',
  /** Length of the off-peak window that starts at each scheduled time. */
  windowMinutes: 'OFFPEAK_WINDOW_MINUTES',
  /** Weekdays the window opens on (comma list, e.g. mon,tue), for counting windows. */
  windowDays: 'OFFPEAK_WINDOW_DAYS',
  /** Only indexes with this prefix get drop advice. */
  indexPrefix: 'OFFPEAK_INDEX_PREFIX',
  /** Days of usage snapshots the unused-index check needs. */
  unusedDays: 'OFFPEAK_UNUSED_DAYS',
  /** Days a pre-run cluster snapshot is kept. */
  snapshotRetentionDays: 'OFFPEAK_SNAPSHOT_RETENTION_DAYS',
  /** The window run's load guard (`active=N[,waiting=M]`), unset for none. */
  maxLoad: 'OFFPEAK_MAX_LOAD',
  /** `active=N[,waiting=M][,cancel-builds]`, unset for none. */
  criticalLoad: 'OFFPEAK_CRITICAL_LOAD',
  /** The window run's state machine (notices name it in the resume command). */
  stateMachineArn: 'OFFPEAK_STATE_MACHINE_ARN',
  /** The rollback function (notices name it in the rollback command). */
  rollbackFunctionName: 'OFFPEAK_ROLLBACK_FUNCTION',
  /** The alerts topic the nightly report is published to. */
  topicArn: 'OFFPEAK_TOPIC_ARN',
  /** Secrets Manager secret whose SecretString is the Slack incoming-webhook URL. */
  slackWebhookSecretArn: 'OFFPEAK_SLACK_WEBHOOK_SECRET_ARN',
  /**
   * Local and test use only: replaces the Data API URL (the local Data API server).
   * Infra never sets it.
   */
  dataApiEndpoint: 'DATA_API_ENDPOINT',
} as const;

export type EnvName = (typeof EnvName)[keyof typeof EnvName];

/** Powertools reads these itself; infra sets them so logs and metrics are named consistently. */
export const PowertoolsEnv = {
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

/** The EMF namespace the dashboard reads. */
export const METRICS_NAMESPACE = 'Offpeak';

/** Metric names emitted by the handlers and graphed by the dashboard. */
export const MetricName = {
  advanceCalls: 'AdvanceCalls',
  migrationsApplied: 'MigrationsApplied',
  runsCompleted: 'RunsCompleted',
  runsPausedByWindow: 'RunsPausedByWindow',
  runsFailed: 'RunsFailed',
  advanceDurationMs: 'AdvanceDurationMs',
  rollbacksApplied: 'RollbacksApplied',
  tablesAnalyzed: 'TablesAnalyzed',
  findings: 'Findings',
  slackPosts: 'SlackPosts',
  /** One per completed nightly ANALYZE; the silence alarm watches it. */
  nightlyAnalyzeCompleted: 'NightlyAnalyzeCompleted',
  /** One per published nightly report; the silence alarm watches it. */
  reportsPublished: 'ReportsPublished',
  /** Windows the oldest unfinished run has spanned, at each window start. */
  unfinishedRunWindows: 'UnfinishedRunWindows',
  noticesSent: 'NoticesSent',
} as const;

/** Dimension of the Findings metric. */
export const FINDING_KIND_DIMENSION = 'kind';

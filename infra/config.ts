import { Arn, ArnFormat } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { checkSetting } from '../lambdas/runtime/setting-rules.ts';

/**
 * Deployment settings, from CDK context (`-c key=value` or cdk.json) with
 * placeholder defaults so `cdk synth` works with no context and no credentials.
 * Settings the Lambdas read at run time are checked here with the same rules
 * (lambdas/runtime/setting-rules.ts), so a value that synthesizes is one they accept.
 */
export interface OffpeakSettings {
  clusterArn: string;
  secretArn: string;
  databaseName: string;
  ledgerSchema: string;
  /** EventBridge Scheduler cron for the start of each off-peak window. */
  windowCron: string;
  /** IANA time zone for every schedule (default UTC). */
  timeZone: string;
  windowMinutes: number;
  /** Nightly ANALYZE + usage snapshot. */
  nightlyCron: string;
  /** Nightly index-health report; after the ANALYZE. */
  reportCron: string;
  alertEmails: string[];
  slackWebhookSecretArn: string | undefined;
  /** Customer-managed KMS key the Slack secret is encrypted with, if any (the function gets kms:Decrypt on it). */
  slackSecretKeyArn: string | undefined;
  snapshotBeforeRiskyMigrations: boolean;
  /** Pre-run cluster snapshots (offpeak-*) older than this are deleted by the next window run. */
  snapshotRetentionDays: number;
  indexPrefix: string;
  unusedDays: number;
  /** Alarm when a run stays unfinished for more than this many windows. */
  unfinishedRunWindows: number;
  /** Run `offpeak doctor` as a CDK trigger after each deploy (a failed check fails the deploy). */
  doctorOnDeploy: boolean;
  /** The window run's load guard: pause over `active=N[,waiting=M]` (gh-ost's max-load). Unset: none. */
  maxLoad: string | undefined;
  /** Stop the run (resumes next window) over `active=N[,waiting=M][,cancel-builds]`. Unset: none. */
  criticalLoad: string | undefined;
  /**
   * Start the rehearsal state machine on this cron (in timeZone), e.g. a few hours before each window; it skips
   * when nothing is pending. Unset (the default): rehearsals start on demand only.
   */
  rehearsalCron: string | undefined;
  /** The rehearsal clone's Serverless v2 maximum capacity (ACUs): builds are timed at up to this capacity. */
  rehearsalMaxCapacity: number;
  /** The clone's DB subnet group, when it should not be the source cluster's. */
  rehearsalSubnetGroup: string | undefined;
}

export const PLACEHOLDER_CLUSTER_ARN = 'arn:aws:rds:eu-central-1:123456789012:cluster:offpeak-placeholder';

export const DEFAULT_SETTINGS: OffpeakSettings = {
  clusterArn: PLACEHOLDER_CLUSTER_ARN,
  secretArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:offpeak-placeholder-AbCdEf',
  databaseName: 'postgres',
  ledgerSchema: 'offpeak',
  windowCron: 'cron(0 2 ? * MON-FRI *)',
  timeZone: 'UTC',
  windowMinutes: 120,
  nightlyCron: 'cron(0 1 * * ? *)',
  reportCron: 'cron(30 1 * * ? *)',
  alertEmails: [],
  slackWebhookSecretArn: undefined,
  slackSecretKeyArn: undefined,
  snapshotBeforeRiskyMigrations: true,
  snapshotRetentionDays: 14,
  indexPrefix: 'idx_',
  unusedDays: 14,
  unfinishedRunWindows: 3,
  doctorOnDeploy: true,
  maxLoad: undefined,
  criticalLoad: undefined,
  rehearsalCron: undefined,
  rehearsalMaxCapacity: 16,
  rehearsalSubnetGroup: undefined,
};

/** Reads every setting from the construct's context, validating what it reads. */
export function settingsFromContext(scope: Construct): OffpeakSettings {
  const get = (key: string): unknown => scope.node.tryGetContext(key);
  const text = (key: keyof OffpeakSettings, fallback: string): string => {
    const value = get(key);
    if (value === undefined || value === null || value === '') return fallback;
    if (typeof value !== 'string') throw new Error(`context ${key} must be a string, got ${JSON.stringify(value)}`);
    return value.trim();
  };
  const int = (key: keyof OffpeakSettings, fallback: number, max: number): number => {
    const raw = get(key);
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`context ${key} must be a whole number from 1 to ${max}, got ${JSON.stringify(raw)}`);
    return value;
  };
  const bool = (key: keyof OffpeakSettings, fallback: boolean): boolean => {
    const raw = get(key);
    if (raw === undefined || raw === '') return fallback;
    if (raw === true || raw === 'true') return true;
    if (raw === false || raw === 'false') return false;
    throw new Error(`context ${key} must be true or false, got ${JSON.stringify(raw)}`);
  };
  const list = (key: keyof OffpeakSettings): string[] => {
    const raw = get(key);
    if (raw === undefined || raw === '') return [];
    const items = Array.isArray(raw) ? raw : String(raw).split(',');
    return items.map((x) => String(x).trim()).filter(Boolean);
  };

  const d = DEFAULT_SETTINGS;
  const settings: OffpeakSettings = {
    clusterArn: text('clusterArn', d.clusterArn),
    secretArn: text('secretArn', d.secretArn),
    databaseName: text('databaseName', d.databaseName),
    ledgerSchema: text('ledgerSchema', d.ledgerSchema),
    windowCron: text('windowCron', d.windowCron),
    timeZone: text('timeZone', d.timeZone),
    windowMinutes: int('windowMinutes', d.windowMinutes, 24 * 60),
    nightlyCron: text('nightlyCron', d.nightlyCron),
    reportCron: text('reportCron', d.reportCron),
    alertEmails: list('alertEmails'),
    slackWebhookSecretArn: text('slackWebhookSecretArn', '') || undefined,
    slackSecretKeyArn: text('slackSecretKeyArn', '') || undefined,
    snapshotBeforeRiskyMigrations: bool('snapshotBeforeRiskyMigrations', d.snapshotBeforeRiskyMigrations),
    snapshotRetentionDays: int('snapshotRetentionDays', d.snapshotRetentionDays, 365),
    indexPrefix: text('indexPrefix', d.indexPrefix),
    unusedDays: int('unusedDays', d.unusedDays, 365),
    unfinishedRunWindows: int('unfinishedRunWindows', d.unfinishedRunWindows, 100),
    doctorOnDeploy: bool('doctorOnDeploy', d.doctorOnDeploy),
    maxLoad: text('maxLoad', '') || undefined,
    criticalLoad: text('criticalLoad', '') || undefined,
    rehearsalCron: text('rehearsalCron', '') || undefined,
    rehearsalMaxCapacity: int('rehearsalMaxCapacity', d.rehearsalMaxCapacity, 256),
    rehearsalSubnetGroup: text('rehearsalSubnetGroup', '') || undefined,
  };
  validateSettings(settings);
  return settings;
}

export function validateSettings(s: OffpeakSettings): void {
  if (!/^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]*$/.test(s.clusterArn)) {
    throw new Error(`clusterArn ${JSON.stringify(s.clusterArn)} is not an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<name>)`);
  }
  for (const [key, arn] of [['secretArn', s.secretArn], ['slackWebhookSecretArn', s.slackWebhookSecretArn]] as const) {
    if (arn !== undefined && !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/.test(arn)) {
      throw new Error(`${key} ${JSON.stringify(arn)} is not a Secrets Manager secret ARN`);
    }
  }
  if (s.slackSecretKeyArn !== undefined) {
    if (!/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/.test(s.slackSecretKeyArn)) {
      throw new Error(`slackSecretKeyArn ${JSON.stringify(s.slackSecretKeyArn)} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)`);
    }
    if (s.slackWebhookSecretArn === undefined) throw new Error('slackSecretKeyArn is set but slackWebhookSecretArn is not: the key is for the Slack secret');
  }
  const cluster = clusterLocation(s.clusterArn);
  const secret = Arn.split(s.secretArn, ArnFormat.COLON_RESOURCE_NAME);
  if (secret.region !== cluster.region || secret.account !== cluster.account) {
    throw new Error(
      `secretArn is in ${secret.account}/${secret.region} but the cluster is in ${cluster.account}/${cluster.region}: the Data API needs the credentials secret in the cluster's account and region`,
    );
  }
  for (const email of s.alertEmails) {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw new Error(`alertEmails: ${JSON.stringify(email)} is not an email address`);
  }
  // The settings the Lambdas read again at run time: the same rules as there.
  checkSetting('timeZone', s.timeZone, 'context');
  checkSetting('windowMinutes', s.windowMinutes, 'context');
  checkSetting('unusedDays', s.unusedDays, 'context');
  checkSetting('indexPrefix', s.indexPrefix, 'context');
  checkSetting('ledgerSchema', s.ledgerSchema, 'context');
  checkSetting('databaseName', s.databaseName, 'context');
  checkSetting('snapshotRetentionDays', s.snapshotRetentionDays, 'context');
  checkSetting('unfinishedRunWindows', s.unfinishedRunWindows, 'context');
  if (s.maxLoad !== undefined) checkSetting('maxLoad', s.maxLoad, 'context');
  if (s.criticalLoad !== undefined) checkSetting('criticalLoad', s.criticalLoad, 'context');
}

/** The account and region of the cluster: the stack must deploy there, or every Data API call fails. */
export function clusterLocation(clusterArn: string): { account: string; region: string; partition: string } {
  const parts = clusterArn.split(':');
  return { partition: parts[1]!, region: parts[3]!, account: parts[4]! };
}

export type PlaceholderVerdict = { kind: 'ok' } | { kind: 'warn'; message: string } | { kind: 'error'; message: string };

/**
 * The placeholder cluster synthesizes (so `cdk synth` works on a fresh clone with
 * no credentials) but can never be deployed: once an account is known (credentials,
 * CDK_DEFAULT_ACCOUNT, or an explicit env) it is an error, and so is a real cluster
 * in another account than the credentials' (every call would fail at run time).
 */
export function judgePlaceholder(settings: OffpeakSettings, knownAccount: string | undefined): PlaceholderVerdict {
  if (settings.clusterArn !== PLACEHOLDER_CLUSTER_ARN) {
    const cluster = clusterLocation(settings.clusterArn);
    if (knownAccount && knownAccount !== cluster.account) {
      return {
        kind: 'error',
        message: `offpeak: the cluster ${settings.clusterArn} is in account ${cluster.account}, but the credentials are for ${knownAccount}: deploy with credentials for ${cluster.account}`,
      };
    }
    return { kind: 'ok' };
  }
  const how = 'pass -c clusterArn=arn:aws:rds:<region>:<account>:cluster:<name> -c secretArn=… (see docs/aws.md, "Before you deploy")';
  if (knownAccount) return { kind: 'error', message: `offpeak: no cluster configured for account ${knownAccount}: ${how}` };
  return { kind: 'warn', message: `synthesized for a placeholder cluster, which cannot be deployed: ${how}` };
}

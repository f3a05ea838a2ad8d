import type { Construct } from 'constructs';

/**
 * Deployment settings, from CDK context (`-c key=value` or cdk.json) with
 * placeholder defaults so `cdk synth` works with no context and no credentials.
 * A deploy with the placeholder cluster is refused by infra/app.ts.
 */
export interface OffpeakSettings {
  clusterArn: string;
  secretArn: string;
  databaseName: string;
  ledgerSchema: string;
  /** EventBridge Scheduler cron for the start of each off-peak window. */
  windowCron: string;
  /** IANA time zone for every schedule. */
  timeZone: string;
  windowMinutes: number;
  /** Nightly ANALYZE + usage snapshot. */
  nightlyCron: string;
  /** Nightly index-health report; after the ANALYZE. */
  reportCron: string;
  alertEmails: string[];
  slackWebhookSecretArn: string | undefined;
  snapshotBeforeRiskyMigrations: boolean;
  indexPrefix: string;
  unusedDays: number;
}

export const PLACEHOLDER_CLUSTER_ARN = 'arn:aws:rds:eu-central-1:123456789012:cluster:offpeak-placeholder';

export const DEFAULT_SETTINGS: OffpeakSettings = {
  clusterArn: PLACEHOLDER_CLUSTER_ARN,
  secretArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:offpeak-placeholder-AbCdEf',
  databaseName: 'postgres',
  ledgerSchema: 'offpeak',
  windowCron: 'cron(0 2 ? * MON-FRI *)',
  timeZone: 'Europe/Moscow',
  windowMinutes: 120,
  nightlyCron: 'cron(0 1 * * ? *)',
  reportCron: 'cron(30 1 * * ? *)',
  alertEmails: [],
  slackWebhookSecretArn: undefined,
  snapshotBeforeRiskyMigrations: true,
  indexPrefix: 'idx_',
  unusedDays: 14,
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
    snapshotBeforeRiskyMigrations: bool('snapshotBeforeRiskyMigrations', d.snapshotBeforeRiskyMigrations),
    indexPrefix: text('indexPrefix', d.indexPrefix),
    unusedDays: int('unusedDays', d.unusedDays, 365),
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
  for (const email of s.alertEmails) {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw new Error(`alertEmails: ${JSON.stringify(email)} is not an email address`);
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: s.timeZone });
  } catch {
    throw new Error(`timeZone ${JSON.stringify(s.timeZone)} is not an IANA time zone (e.g. Europe/Moscow)`);
  }
}

import { ConfigError } from '../core/errors.ts';
import { EnvName } from './env-names.ts';
import type { LoadGuardOptions } from '../core/migrations/load-guard.ts';
import { checkSetting, type SettingName } from './setting-rules.ts';

/**
 * Typed environment getters. They read process.env on each call (not at import),
 * so tests can set variables before invoking, and they throw a ConfigError that
 * names the variable when one is missing or malformed.
 */

type Env = Record<string, string | undefined>;

export function requiredEnv(name: EnvName, env: Env = process.env): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`Environment variable ${name} is required`, { context: { variable: name } });
  return value;
}

export function optionalEnv(name: EnvName, env: Env = process.env): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

export interface DatabaseConfig {
  resourceArn: string;
  secretArn: string;
  database: string;
  /** Local/test only: the local Data API server's URL. */
  endpoint: string | undefined;
  ledgerSchema: string;
}

export function databaseConfig(env: Env = process.env): DatabaseConfig {
  return {
    resourceArn: requiredEnv(EnvName.clusterArn, env),
    secretArn: requiredEnv(EnvName.secretArn, env),
    database: requiredEnv(EnvName.databaseName, env),
    endpoint: optionalEnv(EnvName.dataApiEndpoint, env),
    ledgerSchema: optionalEnv(EnvName.ledgerSchema, env) ?? 'offpeak',
  };
}

/** A setting from its variable, checked by the rule infra checked it with at synth (setting-rules.ts). */
function setting<K extends SettingName>(name: K, variable: EnvName, fallback: string, env: Env) {
  return checkSetting(name, optionalEnv(variable, env) ?? fallback, `Environment variable ${variable}:`);
}

export const windowMinutes = (env: Env = process.env): number => setting('windowMinutes', EnvName.windowMinutes, '120', env);
export const indexPrefix = (env: Env = process.env): string => setting('indexPrefix', EnvName.indexPrefix, 'idx_', env);
export const unusedDays = (env: Env = process.env): number => setting('unusedDays', EnvName.unusedDays, '14', env);
export const snapshotRetentionDays = (env: Env = process.env): number => setting('snapshotRetentionDays', EnvName.snapshotRetentionDays, '14', env);
/** The window run's load guard from OFFPEAK_MAX_LOAD / OFFPEAK_CRITICAL_LOAD (checked as at synth); undefined when neither is set. */
export function loadGuardOptions(env: Env = process.env): LoadGuardOptions | undefined {
  const max = optionalEnv(EnvName.maxLoad, env);
  const critical = optionalEnv(EnvName.criticalLoad, env);
  if (max === undefined && critical === undefined) return undefined;
  return {
    ...(max !== undefined ? { maxLoad: checkSetting('maxLoad', max, `Environment variable ${EnvName.maxLoad}:`) } : {}),
    ...(critical !== undefined ? { criticalLoad: checkSetting('criticalLoad', critical, `Environment variable ${EnvName.criticalLoad}:`) } : {}),
  };
}

export const topicArn = (env: Env = process.env): string => requiredEnv(EnvName.topicArn, env);
export const slackWebhookSecretArn = (env: Env = process.env): string => requiredEnv(EnvName.slackWebhookSecretArn, env);

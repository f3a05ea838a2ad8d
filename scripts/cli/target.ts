import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { ConfigError } from '../../lambdas/core/errors.ts';

/** Options shared by every verb that talks to a database. */
export const targetOptions = {
  'database-url': { type: 'string' },
  'data-api-endpoint': { type: 'string' },
  'resource-arn': { type: 'string' },
  'secret-arn': { type: 'string' },
  database: { type: 'string' },
  'pglite-dir': { type: 'string' },
  'wait-for-lock': { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

export interface TargetValues {
  'database-url'?: string | undefined;
  'data-api-endpoint'?: string | undefined;
  'resource-arn'?: string | undefined;
  'secret-arn'?: string | undefined;
  database?: string | undefined;
  'pglite-dir'?: string | undefined;
  'wait-for-lock'?: boolean | undefined;
}

export type Target =
  | { kind: 'pg'; url: string }
  | { kind: 'data-api'; endpoint: string | undefined; region: string | undefined; resourceArn: string; secretArn: string; database: string }
  | { kind: 'pglite'; dataDir: string; waitForLock: boolean; explicit: boolean };

/** The Data API target's options; --database-url and --pglite-dir are the others. */
export const dataApiOptionNames = ['data-api-endpoint', 'resource-arn', 'secret-arn', 'database'] as const;

/**
 * Chooses the database: --database-url, the Data API options or --pglite-dir (one of them); else DATABASE_URL;
 * else the embedded PGlite in .offpeak/pglite.
 * An empty URL (an unset CI secret) is an error, never a quiet fall back to the embedded database.
 */
export function resolveTarget(values: TargetValues, env: NodeJS.ProcessEnv, cwd: string): Target {
  if (values['database-url'] !== undefined && !values['database-url'].trim()) {
    throw new ConfigError('--database-url is empty (an unset variable?): give postgres://user@host:5432/dbname, or leave the option out for the embedded database');
  }
  const dataApi = dataApiOptionNames.filter((k) => values[k] !== undefined);
  const pgliteDir = values['pglite-dir'];
  // An explicit flag wins over DATABASE_URL from the environment.
  const fromEnv = values['database-url'] === undefined && !dataApi.length && pgliteDir === undefined ? env['DATABASE_URL'] : undefined;
  if (fromEnv !== undefined && !fromEnv.trim()) {
    throw new ConfigError('DATABASE_URL is set but empty (an unset CI secret?): set it to postgres://user@host:5432/dbname, or unset it for the embedded database');
  }
  const url = values['database-url'] ?? fromEnv;
  const chosen = [url === undefined ? '' : '--database-url', dataApi.length ? `the Data API options (--${dataApi.join(', --')})` : '', pgliteDir === undefined ? '' : '--pglite-dir'].filter(Boolean);
  if (chosen.length > 1) throw new ConfigError(`choose one target: ${chosen.join(' or ')}, not several`);
  if (url) return { kind: 'pg', url: checkedPostgresUrl(url) };
  if (dataApi.length) {
    const missing = (['resource-arn', 'secret-arn', 'database'] as const).filter((k) => !values[k]?.trim());
    if (missing.length > 0) {
      throw new ConfigError(`the Data API target needs ${missing.map((m) => `--${m}`).join(', ')} (and --data-api-endpoint for a local server)`);
    }
    const endpoint = values['data-api-endpoint'] === undefined ? undefined : checkedEndpoint(values['data-api-endpoint']);
    const resourceArn = values['resource-arn']!;
    const configured = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'];
    const region = configured || regionOfArn(resourceArn);
    if (!region && endpoint === undefined) {
      throw new ConfigError(`--resource-arn ${JSON.stringify(resourceArn)} names no region and AWS_REGION is not set: give the cluster's ARN, arn:aws:rds:REGION:ACCOUNT:cluster:NAME`);
    }
    return { kind: 'data-api', endpoint, region: region || undefined, resourceArn, secretArn: values['secret-arn']!, database: values.database! };
  }
  const dir = pgliteDir;
  if (dir !== undefined && !dir.trim()) throw new ConfigError('--pglite-dir is empty: give a directory, or leave the option out for .offpeak/pglite');
  return { kind: 'pglite', dataDir: resolve(cwd, dir ?? '.offpeak/pglite'), waitForLock: values['wait-for-lock'] ?? false, explicit: dir !== undefined };
}

/** The region of an RDS ARN (arn:aws:rds:eu-west-1:123456789012:cluster:name), when it is one. */
export function regionOfArn(arn: string): string | undefined {
  return /^arn:aws[a-z-]*:rds:([a-z0-9-]+):/.exec(arn)?.[1];
}

function checkedEndpoint(endpoint: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(endpoint);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || !parsed.hostname) {
    throw new ConfigError(`--data-api-endpoint ${JSON.stringify(endpoint)} is not a URL: give http://HOST:PORT of a local Data API server (offpeak data-api serve), or leave it out for the real Data API`);
  }
  return endpoint;
}

/**
 * The embedded database a read-only verb would open, when its directory does not exist: such a verb must not
 * create a database (a typo in --pglite-dir would otherwise answer "nothing applied" from a new empty one).
 */
export function missingEmbeddedDatabase(target: Target): string | undefined {
  return target.kind === 'pglite' && !existsSync(target.dataDir) ? target.dataDir : undefined;
}

/** Refuses a read-only verb's --pglite-dir that does not exist. */
export function requireExistingDatabase(target: Target): void {
  const missing = missingEmbeddedDatabase(target);
  if (missing === undefined) return;
  throw new ConfigError(
    target.kind === 'pglite' && target.explicit
      ? `--pglite-dir ${missing} does not exist: this command reads only and creates no database; check the path`
      : `no embedded database yet at ${missing}: nothing is applied there (npm start or offpeak upgrade head creates it)`,
  );
}

/** Opens a SqlClient for the target. Adapters are imported lazily so each verb loads only what it uses. */
export async function openTarget(target: Target): Promise<SqlClient> {
  switch (target.kind) {
    case 'pg': {
      const { createPgClient } = await import('../../lambdas/core/db/pg.ts');
      // After 1 s an index build is followed from a second connection, for the progress bar.
      return createPgClient({ connectionString: target.url, stillRunningAfterMs: 1000 });
    }
    case 'data-api': {
      const { openDataApiTarget } = await import('./data-api-target.ts');
      return openDataApiTarget(target);
    }
    case 'pglite': {
      const { openPgliteClient } = await import('./pglite-target.ts');
      return openPgliteClient(target);
    }
  }
}

/** node-postgres reads a malformed URL as a host name and fails later with a DNS error; say what is wrong instead. */
function checkedPostgresUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['postgres:', 'postgresql:'].includes(parsed.protocol)) {
    throw new ConfigError(`--database-url (or DATABASE_URL) must look like postgres://user@host:5432/dbname; got ${JSON.stringify(url.replace(/:[^:@/]*@/, ':***@'))}`);
  }
  return url;
}

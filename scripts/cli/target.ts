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
  | { kind: 'data-api'; endpoint: string | undefined; resourceArn: string; secretArn: string; database: string }
  | { kind: 'pglite'; dataDir: string; waitForLock: boolean };

/** Chooses the database: --database-url / DATABASE_URL, then the Data API options, else the embedded PGlite. */
export function resolveTarget(values: TargetValues, env: NodeJS.ProcessEnv, cwd: string): Target {
  const url = values['database-url'] ?? env['DATABASE_URL'];
  const dataApi = values['resource-arn'] ?? values['secret-arn'] ?? values['data-api-endpoint'];
  if (url && dataApi) throw new ConfigError('choose one target: --database-url (or DATABASE_URL) or the Data API options, not both');
  if (url) return { kind: 'pg', url: checkedPostgresUrl(url) };
  if (dataApi) {
    const missing = (['resource-arn', 'secret-arn', 'database'] as const).filter((k) => !values[k]);
    if (missing.length > 0) {
      throw new ConfigError(`the Data API target needs ${missing.map((m) => `--${m}`).join(', ')} (and --data-api-endpoint for a local server)`);
    }
    return {
      kind: 'data-api',
      endpoint: values['data-api-endpoint'],
      resourceArn: values['resource-arn']!,
      secretArn: values['secret-arn']!,
      database: values.database!,
    };
  }
  return { kind: 'pglite', dataDir: values['pglite-dir'] ?? `${cwd}/.offpeak/pglite`, waitForLock: values['wait-for-lock'] ?? false };
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

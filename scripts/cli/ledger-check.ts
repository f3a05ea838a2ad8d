import type { TargetValues } from './target.ts';

/** True when the operator named a database (flag or DATABASE_URL), so `check` should read its ledger too. */
export function hasExplicitTarget(values: TargetValues, env: NodeJS.ProcessEnv): boolean {
  return Boolean(values['database-url'] ?? env['DATABASE_URL'] ?? values['resource-arn'] ?? values['data-api-endpoint'] ?? values['pglite-dir']);
}

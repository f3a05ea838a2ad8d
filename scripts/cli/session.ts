import { hostname, userInfo } from 'node:os';
import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { createMigrator, type Migrator, type MigratorOptions } from '../../lambdas/core/migrations/runner.ts';
import { openTarget, requireExistingDatabase, resolveTarget, type TargetValues } from './target.ts';
import { loadMigrations } from './load-graph.ts';

/**
 * Opens the verb's target database, runs `fn`, and always closes the connection. `readOnly` verbs refuse an
 * embedded database directory that does not exist instead of creating one.
 */
export async function withClient<T>(
  values: TargetValues,
  env: NodeJS.ProcessEnv,
  cwd: string,
  fn: (client: SqlClient) => Promise<T>,
  options: { readOnly?: boolean } = {},
): Promise<T> {
  const target = resolveTarget(values, env, cwd);
  if (options.readOnly) requireExistingDatabase(target);
  const client = await openTarget(target);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Who runs this, as recorded in the ledger: cli:user@host. */
export function cliActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep 'unknown'
  }
  return `cli:${user}@${hostname()}`;
}

/** Loads the migrations (errors name files), opens the target, and runs `fn` with a migrator over both. */
export async function withMigrator<T>(
  input: { values: TargetValues; env: NodeJS.ProcessEnv; cwd: string; dir: string; readOnly?: boolean; options?: Omit<MigratorOptions, 'client' | 'migrations'> },
  fn: (migrator: Migrator, client: SqlClient) => Promise<T>,
): Promise<T> {
  const migrations = await loadMigrations(input.dir);
  return withClient(
    input.values,
    input.env,
    input.cwd,
    (client) => fn(createMigrator({ client, migrations, actor: cliActor(), ...input.options }), client),
    { readOnly: input.readOnly ?? false },
  );
}

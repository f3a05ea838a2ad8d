import { migrations } from '../../migrations/_index.ts';
import type { SqlClient } from '../core/db/client.ts';
import type { MigrationEvent } from '../core/migrations/events.ts';
import { fromModules } from '../core/migrations/loader.ts';
import { createMigrator, type Migrator, type MigratorOptions } from '../core/migrations/runner.ts';
import { openDatabase } from './data-api.ts';
import { logger } from './observability.ts';

/**
 * Every migration, imported statically through migrations/_index.ts so the
 * bundle carries them all (a Lambda has no migrations directory to read).
 * Loaded once per container: checksums are computed at cold start, not per call.
 */
export const bundledMigrations = fromModules(migrations);

/** Progress events as structured log lines (never SQL parameters). */
function logEvent(event: MigrationEvent): void {
  logger.info({ message: 'migration_event', ...event });
}

/** A migrator over the Data API for this invocation, named after the handler in the ledger (on a rehearsal clone with `resourceArn`). */
export function openMigrator(actor: string, options: Pick<MigratorOptions, 'loadGuard'> & { resourceArn?: string } = {}): { migrator: Migrator; client: SqlClient } {
  const { resourceArn, ...migratorOptions } = options;
  const { client, ledgerSchema } = openDatabase(resourceArn === undefined ? {} : { resourceArn });
  const migrator = createMigrator({ client, migrations: bundledMigrations, schema: ledgerSchema, actor: `lambda:${actor}`, onEvent: logEvent, ...migratorOptions });
  return { migrator, client };
}

/**
 * A child process for the crash tests: runs the seed migrations (migrations/_index.ts, as a Lambda bundle
 * does) to a target over PostgreSQL or the local Data API server, printing one JSON line per runner event,
 * so the parent can kill it with SIGKILL at any moment. Bundled once by esbuild so each start is quick.
 *
 * argv[2] is JSON: { url? | pgliteDir? | dataApi?: { endpoint, resourceArn, secretArn, database }, direction, target, leaseTtlMs }.
 */
import { createPgClient } from '../../../lambdas/core/db/pg.ts';
import { createDataApiClient, createRdsDataSdkClient } from '../../../lambdas/core/db/data-api.ts';
import { fromModules } from '../../../lambdas/core/migrations/loader.ts';
import { createMigrator } from '../../../lambdas/core/migrations/runner.ts';
import { openPgliteClient } from '../../../scripts/cli/pglite-target.ts';
import { migrations } from '../../../migrations/_index.ts';

interface ChildArgs {
  url?: string;
  /** An on-disk PGlite directory (opened under its process lock, as the CLI does). */
  pgliteDir?: string;
  dataApi?: { endpoint: string; resourceArn: string; secretArn: string; database: string };
  direction: 'up' | 'down';
  target: string;
  leaseTtlMs: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const client = args.url
  ? createPgClient({ connectionString: args.url })
  : args.pgliteDir
    ? await openPgliteClient({ dataDir: args.pgliteDir, waitForLock: true })
    : createDataApiClient({ client: createRdsDataSdkClient({ endpoint: args.dataApi!.endpoint }), ownsClient: true, ...args.dataApi! });
const write = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const migrator = createMigrator({
  client,
  migrations: fromModules(migrations),
  actor: 'crash-child',
  leaseTtlMs: args.leaseTtlMs,
  pollIntervalMs: 50,
  retryBaseMs: 20,
  deadlineMarginMs: 0,
  onEvent: (e) => write({ ...e, t: Date.now() }),
});
write({ event: 'child_ready', t: Date.now() });
try {
  const result = await migrator.runToCompletion(args.direction, args.target);
  write({ event: 'child_result', status: result.status, error: result.error?.message, t: Date.now() });
  process.exitCode = result.status === 'done' ? 0 : 1;
} finally {
  await client.close();
}

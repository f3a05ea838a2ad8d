import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput, type Output } from '../output.ts';
import { join } from 'node:path';
import { createProgress } from '../progress.ts';
import type { MigrationEvent } from '../../../lambdas/core/migrations/events.ts';
import { watchInterrupts } from '../interrupts.ts';
import { withMigrator } from '../session.ts';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import type { AdvanceResult, Migrator } from '../../../lambdas/core/migrations/runner.ts';
import { runHealthStep } from '../health-step.ts';
import { dataApiOptionNames } from '../target.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';

const usage = 'start [--verbose] [--pglite-dir DIR] [--migrations DIR] [--json]';

/** Events a short `npm start` leaves out: every step and its progress (`--verbose` shows them). */
const QUIET_EVENTS = new Set(['run_started', 'run_stopped', 'migration_started', 'step_started', 'step_done', 'index_progress', 'analyzed', 'lease_acquired']);

/** What the job's later steps get: the open database, the migrator, the upgrade's result, and where to print. */
export interface StartContext {
  client: SqlClient;
  migrator: Migrator;
  upgrade: AdvanceResult;
  out: Output;
  /** --verbose: the full tables here too, not only in the report file. */
  verbose: boolean;
  /** Where the full index-health report is written (.offpeak/report.txt). */
  reportFile: string;
  /** Collected into the --json document under each step's name. */
  json: Record<string, unknown>;
}

export interface StartStep {
  name: string;
  run(context: StartContext): Promise<void>;
}

async function printCurrent({ migrator, out, json }: StartContext): Promise<void> {
  const status = await migrator.status();
  json['current'] = status.current;
  json['heads'] = status.heads;
  out.line(`current revision: ${status.current.join(', ') || '<base>'}${status.pending.length === 0 ? ' (head)' : `, ${status.pending.length} pending`}`);
}

/**
 * Every idx_ index in the database with its validity, not only the ones this run built, so a second
 * run (nothing to apply) still proves the schema is whole.
 */
async function printVerifiedIndexes({ client, out, json }: StartContext): Promise<void> {
  // The quickstart's promise: every idx_ index, by table, checked valid in the catalog.
  const { rows } = await client.query<{ table_name: string; index_name: string; valid: boolean }>(sql`
    SELECT t.relname AS table_name, c.relname AS index_name, i.indisvalid AS valid
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname LIKE 'idx\\_%' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'offpeak')
    ORDER BY t.relname, c.relname`);
  json['indexes'] = rows;
  const invalid = rows.filter((r) => !r.valid);
  out.line(`verified indexes: ${rows.length - invalid.length} of ${rows.length} idx_ indexes valid`);
  const byTable = new Map<string, string[]>();
  for (const r of rows) byTable.set(r.table_name, [...(byTable.get(r.table_name) ?? []), `${r.index_name}${r.valid ? '' : ' (INVALID)'}`]);
  for (const [table, names] of byTable) out.line(`  ${table}: ${names.join(', ')}`);
  if (invalid.length) throw new Error(`INVALID indexes: ${invalid.map((r) => r.index_name).join(', ')}`);
}

/**
 * The job's steps after the upgrade, in order. The index-health report goes here
 * (ANALYZE of stale tables and the text summary) as one more StartStep.
 */
export const afterUpgrade: readonly StartStep[] = [
  { name: 'current', run: printCurrent },
  { name: 'verify', run: printVerifiedIndexes },
  { name: 'health', run: runHealthStep },
];

/**
 * The off-peak job on the embedded database (PGlite in .offpeak/pglite): upgrade to head with progress
 * (the runner ANALYZEs the tables it touched and verifies the indexes it built), then the steps above.
 * DATABASE_URL is ignored on purpose: `npm start` never touches a server by accident.
 */
export const startCommand: Command = {
  name: 'start',
  summary: 'run the off-peak job on the embedded database: upgrade to head, verify, ANALYZE, report',
  async run({ argv, stdout, stderr, env, cwd }) {
    const options = { ...migrationVerbOptions, verbose: { type: 'boolean', short: 'v' } } as const;
    const { values } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const given = [...dataApiOptionNames, 'database-url' as const].filter((k) => values[k] !== undefined);
    if (given.length) {
      throw new ConfigError(
        `start runs on the embedded database and takes no --${given.join(', --')}; for a server use \`offpeak upgrade head\`, \`offpeak analyze\` and \`offpeak report\` with the same options`,
      );
    }
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const target = { 'pglite-dir': values['pglite-dir'], 'wait-for-lock': values['wait-for-lock'] };
    const verbose = values.verbose ?? false;
    const full = createProgress(out.json ? stderr : stdout);
    const progress = verbose ? full : Object.assign((e: MigrationEvent) => (QUIET_EVENTS.has(e.event) ? undefined : full(e)), { finish: () => full.finish() });
    const reportFile = join(cwd, '.offpeak', 'report.txt');
    const json: Record<string, unknown> = {};
    const code = await withMigrator(
      { values: target, env: { ...env, DATABASE_URL: undefined }, cwd, dir: migrationsDir(values, cwd), options: { onEvent: progress } },
      async (migrator, client) => {
        let upgrade: AdvanceResult;
        // Ctrl-C during the upgrade: the statement is cancelled between PGlite's statements, the lease released.
        const interrupts = watchInterrupts(stderr);
        try {
          upgrade = await migrator.runToCompletion('up', 'head', { signal: interrupts.signal });
        } finally {
          interrupts.dispose();
          progress.finish();
        }
        json['upgrade'] = upgrade;
        if (upgrade.status === 'interrupted') {
          out.note(`interrupted: ${upgrade.interrupted?.what ?? 'the upgrade'}; run the same command to resume (run ${upgrade.runId})`);
          return ExitCode.interrupted;
        }
        if (upgrade.status !== 'done') {
          out.line(`upgrade ${upgrade.status}: ${upgrade.error?.message ?? ''}`);
          return ExitCode.failed;
        }
        out.line(upgrade.total === 0 ? 'upgrade: nothing to do, already at head' : `upgrade: applied ${upgrade.applied.length} migration(s): ${upgrade.applied.join(', ')}`);
        for (const s of upgrade.skipped) out.line(`  skipped ${s.revision} step ${s.step + 1}: ${s.reason}`);
        const v = upgrade.verification;
        if (v && (v.indexes.length || v.analyzed.length)) {
          out.line(`verified: ${v.indexes.filter((i) => i.exists && i.valid).length}/${v.indexes.length} index(es) built by this run are valid; analyzed ${v.analyzed.length} table(s) it touched`);
        }
        for (const step of afterUpgrade) await step.run({ client, migrator, upgrade, out, verbose, reportFile, json });
        return ExitCode.ok;
      },
    );
    out.result(json);
    return code;
  },
};

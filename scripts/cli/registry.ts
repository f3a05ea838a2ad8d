import type { Command } from './command.ts';

/**
 * One verb as listed: its name and summary are here so `offpeak --help` needs no imports, and `load` imports the
 * command file only when the verb runs. Eager imports made every call pay for lint's parser, the Data API server,
 * squash and health before doing anything.
 */
export interface CommandEntry {
  /** The verb, possibly two words ("data-api serve"); must equal the loaded command's name. */
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/** Every verb of the CLI. Add a command file under commands/ and list it here. */
export const commands: readonly CommandEntry[] = [
  {
    name: 'start',
    summary: 'run the off-peak job on the embedded database: upgrade to head, verify, ANALYZE, report',
    load: async () => (await import('./commands/start.ts')).startCommand,
  },
  { name: 'doctor', summary: 'check a target before a window does: Data API, engine, role settings, privileges, ledger, clock', load: async () => (await import('./commands/doctor.ts')).doctorCommand },
  { name: 'current', summary: 'show the revision(s) applied to the database', load: async () => (await import('./commands/current.ts')).currentCommand },
  {
    name: 'upgrade',
    summary: 'apply migrations up to head, REV or +N (--sql previews and changes nothing)',
    load: async () => (await import('./commands/upgrade.ts')).upgradeCommand,
  },
  {
    name: 'downgrade',
    summary: 'revert migrations down to REV, -N or base (--sql previews and changes nothing)',
    load: async () => (await import('./commands/downgrade.ts')).downgradeCommand,
  },
  {
    name: 'rehearse',
    summary: 'run the plan on a copy of a PostgreSQL database (TEMPLATE or --from-dump), time each unit, calibrate pre-flight, drop the copy',
    load: async () => (await import('./commands/rehearse.ts')).rehearseCommand,
  },
  {
    name: 'preflight',
    summary: 'estimate the pending index builds (bytes, temp, seconds) against the window and free disk; refuse what cannot fit',
    load: async () => (await import('./commands/preflight.ts')).preflightCommand,
  },
  { name: 'stamp', summary: 'record REV as the applied revision without running anything', load: async () => (await import('./commands/stamp.ts')).stampCommand },
  {
    name: 'runs',
    summary: 'list unfinished migration runs (resumed by the same upgrade/downgrade; see runs abandon)',
    load: async () => (await import('./commands/runs.ts')).runsCommand,
  },
  {
    name: 'runs abandon',
    summary: 'abandon an unfinished run; the next upgrade/downgrade plans afresh from the ledger',
    load: async () => (await import('./commands/runs.ts')).runsAbandonCommand,
  },
  { name: 'heads', summary: 'show the head revisions of the migration files', load: async () => (await import('./commands/heads.ts')).headsCommand },
  { name: 'history', summary: 'list the migrations, newest first, branch and merge points marked (-r A:B, -i, --verbose)', load: async () => (await import('./commands/history.ts')).historyCommand },
  { name: 'show', summary: 'show one migration (REV, head or current): metadata, rollback plan, and every step with its SQL', load: async () => (await import('./commands/show.ts')).showCommand },
  { name: 'new', summary: 'write migrations/YYYYMMDDHHMM_short_name.ts on top of the current head', load: async () => (await import('./commands/new.ts')).newCommand },
  { name: 'revision', summary: 'alembic spelling of new: revision -m "add user index" (no --autogenerate)', load: async () => (await import('./commands/new.ts')).revisionCommand },
  { name: 'merge', summary: 'write a merge migration (no steps) joining the heads, or the given revisions', load: async () => (await import('./commands/merge.ts')).mergeCommand },
  {
    name: 'check',
    summary: 'validate the migrations: graph, one statement per step, registry; with a target, checksums',
    load: async () => (await import('./commands/check.ts')).checkCommand,
  },
  { name: 'lint', summary: 'check migrations and .sql files against the migration policy', load: async () => (await import('./commands/lint.ts')).lintCommand },
  { name: 'squash', summary: 'write one migration that replaces every migration from base to REV', load: async () => (await import('./commands/squash.ts')).squashCommand },
  {
    name: 'data-api serve',
    summary: 'serve the RDS Data API locally over PGlite or a PostgreSQL URL',
    load: async () => (await import('./commands/data-api-serve.ts')).dataApiServeCommand,
  },
  {
    name: 'analyze',
    summary: 'ANALYZE tables with stale statistics, one at a time within a deadline; resumes where the last run stopped',
    load: async () => (await import('./commands/analyze.ts')).analyzeCommand,
  },
  {
    name: 'snapshot',
    summary: 'record per-index usage counters and sizes (the history behind "unused"); applies retention',
    load: async () => (await import('./commands/snapshot.ts')).snapshotCommand,
  },
  {
    name: 'report',
    summary:
      'index-health report: unused, invalid, duplicate, overlapping, oversized, bloated indexes; FKs without index; stale stats',
    load: async () => (await import('./commands/report.ts')).reportCommand,
  },
  {
    name: 'verify-plans',
    summary: "re-check every applied migration's plan expectations (EXPLAIN: is the index usable, is it chosen); exit 1 when one does not hold",
    load: async () => (await import('./commands/verify-plans.ts')).verifyPlansCommand,
  },
  {
    name: 'invoke rollback',
    summary: 'roll the deployed database back to REV through the rollback Lambda (dry run, then typed confirmation)',
    load: async () => (await import('./commands/invoke-rollback.ts')).invokeRollbackCommand,
  },
];

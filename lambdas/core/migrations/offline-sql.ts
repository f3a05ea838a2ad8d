/**
 * Offline SQL, Alembic's `--sql` mode without a database: `upgrade head --sql --offline` and
 * `downgrade A:B --sql --offline` render a script from the migration files alone, for a DBA to review and run
 * with `psql -v ON_ERROR_STOP=1 -f script.sql`.
 *
 * Unlike the online preview (which reads the ledger and writes the bookkeeping as comments), the script carries
 * the ledger itself: its DDL (idempotent) first, then the INSERTs and DELETEs that record each migration, as real
 * statements in the same transaction as the migration's steps. Standalone steps (CONCURRENTLY) are marked and
 * run outside any transaction, as psql autocommits them; a migration with standalone steps is recorded after its
 * last one. A conditional step (an extension that may be missing) is marked: offline, nobody can check.
 */
import { ConfigError } from '../errors.ts';
import { quoteIdent, quoteLiteral } from '../db/sql.ts';
import type { MigrationGraph } from './graph.ts';
import { DEFAULT_LEDGER_SCHEMA, ledgerDdlText, type Direction } from './ledger.ts';
import { buildPlan, lockTimeoutStatement, migrationTables, unitSteps, type Plan, type PlanUnit } from './planner.ts';

export interface OfflineOptions {
  schema?: string;
  lockTimeoutMs: number;
  /** Recorded as the ledger's actor, e.g. 'offline:alice'. */
  actor: string;
}

/**
 * The plan for an Alembic-style range from the files alone: `FROM:TO` (FROM applied, TO the target), or for
 * an upgrade just `TO` (from base). A downgrade needs the range: offline, nothing says what is applied.
 */
export function offlinePlan(graph: MigrationGraph, direction: Direction, spec: string): Plan {
  const colon = spec.indexOf(':');
  if (direction === 'down' && colon < 0) {
    throw new ConfigError(`downgrade --sql --offline needs a range FROM:TO (e.g. 803b93aca2d2:202508230001 or head:base): offline, nothing says what is applied`);
  }
  const from = colon < 0 ? 'base' : spec.slice(0, colon) || 'base';
  const to = colon < 0 ? spec : spec.slice(colon + 1);
  if (!to) throw new ConfigError(`--sql --offline range ${JSON.stringify(spec)} has no end: give FROM:TO`);
  if (/^[+-]\d+$/.test(to) || /^[+-]\d+$/.test(from)) throw new ConfigError(`--sql --offline takes revisions, head or base, not relative steps (${spec})`);
  const fromNodes = from === 'base' ? [] : from === 'head' ? [graph.head()!].filter(Boolean) : from === 'heads' ? graph.heads() : [graph.resolveRevision(from)];
  const appliedSet = graph.ancestors(fromNodes);
  const applied = graph.order.filter((r) => appliedSet.has(r));
  return buildPlan(graph, { applied }, direction, to);
}

/** The script for `plan`, with the ledger's DDL and bookkeeping as real statements. */
export function renderOfflineSql(graph: MigrationGraph, plan: Plan, options: OfflineOptions): string {
  const schema = options.schema ?? DEFAULT_LEDGER_SCHEMA;
  const t = (name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;
  const lines: string[] = [
    `-- offpeak ${plan.direction === 'up' ? 'upgrade' : 'downgrade'} ${plan.target}: rendered offline from the migration files (no database was read).`,
    '-- Run it with: psql -v ON_ERROR_STOP=1 -f this-file.sql',
    '-- Statements marked "outside a transaction" must run in autocommit mode (psql does, outside BEGIN/COMMIT).',
    '',
    '-- The ledger (schema, tables, execute_step), made or upgraded idempotently:',
    `${ledgerDdlText(schema)};`,
  ];

  const record = (unit: PlanUnit, recordedOnly: boolean): string[] => {
    const m = graph.get(unit.revision);
    if (unit.direction === 'down') {
      const gone = [m.revision, ...m.replaces].map(quoteLiteral).join(', ');
      return [`DELETE FROM ${t('migration_tables')} WHERE revision IN (${gone});`, `DELETE FROM ${t('applied_migrations')} WHERE revision IN (${gone});`];
    }
    const out = [
      `INSERT INTO ${t('applied_migrations')} (revision, checksum, duration_ms, actor, description, recorded_only) VALUES (${[m.revision, m.checksum].map(quoteLiteral).join(', ')}, 0, ${quoteLiteral(options.actor)}, ${quoteLiteral(m.description)}, ${recordedOnly})\n` +
        `  ON CONFLICT (revision) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now(), actor = EXCLUDED.actor, description = EXCLUDED.description, recorded_only = EXCLUDED.recorded_only;`,
    ];
    const tables = migrationTables(m, 'up');
    if (tables.length) {
      const values = tables.map(([s, table]) => `(${[m.revision, s, table].map(quoteLiteral).join(', ')})`).join(', ');
      out.push(`INSERT INTO ${t('migration_tables')} (revision, schema_name, table_name) VALUES ${values}\n  ON CONFLICT (revision, schema_name, table_name) DO UPDATE SET applied_at = now();`);
    }
    return out;
  };

  let current = '';
  for (const unit of plan.units) {
    const m = graph.get(unit.revision);
    const key = `${unit.revision}:${unit.direction}`;
    if (key !== current) {
      current = key;
      lines.push('', `-- ${unit.direction === 'up' ? 'Running upgrade' : 'Running downgrade'} ${m.revision} (${m.file}): ${m.description}`);
    }
    if (unit.kind === 'record') {
      lines.push(`-- recorded as applied without running (${unit.reason})`, ...record(unit, true));
      continue;
    }
    const steps = unitSteps(graph, unit);
    const inTransaction = unit.kind === 'migration' || steps[0]!.step.mode === 'transactional';
    if (inTransaction) {
      lines.push('BEGIN;');
      if (steps.some(({ step }) => step.lock === 'strong')) lines.push(`${lockTimeoutStatement(options.lockTimeoutMs)};`);
    }
    for (const { step } of steps) {
      if (!inTransaction) lines.push('-- outside a transaction (autocommit):');
      if (step.when) lines.push(`-- only if extension ${step.when.extensionAvailable} is available: delete this statement otherwise`);
      lines.push(`${step.sql};`);
    }
    if (unit.kind === 'migration' || unit.last) lines.push(...record(unit, false));
    if (inTransaction) lines.push('COMMIT;');
  }
  if (plan.units.length === 0) lines.push('', `-- nothing to do: ${plan.target} is already reached from the range's start`);
  return `${lines.join('\n')}\n`;
}

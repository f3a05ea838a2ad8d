/**
 * The lint rule catalog: every rule's id, default severity and one-line doc.
 * `offpeak lint --rules` prints this table; docs/lint-rules.md mirrors it.
 */
export type Severity = 'error' | 'warning';

export interface RuleInfo {
  id: string;
  severity: Severity;
  doc: string;
  /** False for the linter's own bookkeeping rules: they cannot be disabled or downgraded. */
  configurable: boolean;
}

const rule = (id: string, severity: Severity, doc: string, configurable = true): RuleInfo => ({ id, severity, doc, configurable });

export const RULES = [
  rule('naming/file-name', 'error', 'A migration file is named YYYYMMDDHHMM_short_name.ts: a real timestamp, then snake_case.'),
  rule('naming/one-migration-per-file', 'error', 'A file defines exactly one migration, as its default export.'),
  rule('rollback/plan-required', 'error', 'A medium- or high-risk migration states a rollbackPlan.'),
  rule('rollback/down-required', 'error', 'Every migration has down steps unless marked { irreversible: reason }; medium/high risk may not be irreversible.'),
  rule('rollback/irreversible-reason', 'error', 'An irreversible migration says why.'),
  rule('idempotency/create-index-if-not-exists', 'error', 'CREATE INDEX uses IF NOT EXISTS, so a re-run after a partial failure succeeds.'),
  rule('idempotency/drop-index-if-exists', 'error', 'DROP INDEX uses IF EXISTS, so a re-run after a partial failure succeeds.'),
  rule('idempotency/index-prefix', 'error', 'Index names start with the configured prefix (default idx_): index-health advice only covers those.'),
  rule('concurrency/create-index', 'error', 'CREATE INDEX on a table that already exists uses CONCURRENTLY (a plain build blocks writes for the whole build).'),
  rule('concurrency/drop-index', 'error', 'DROP INDEX of an index on an existing table uses CONCURRENTLY (a plain drop takes ACCESS EXCLUSIVE).'),
  rule('concurrency/reindex', 'error', 'REINDEX uses CONCURRENTLY (a plain REINDEX blocks writes, and reads through the index).'),
  rule('concurrency/in-transaction', 'error', 'CONCURRENTLY (and VACUUM) never runs inside a transaction: not in a transactional step, not inside BEGIN … COMMIT.'),
  rule('locking/add-column-volatile-default', 'error', 'ADD COLUMN with a volatile default, a serial/identity or a stored generated column rewrites the table under ACCESS EXCLUSIVE.'),
  rule('locking/alter-column-type', 'error', 'ALTER COLUMN … TYPE rewrites the table (and its indexes) under ACCESS EXCLUSIVE.'),
  rule('locking/set-not-null', 'error', 'SET NOT NULL scans the table under ACCESS EXCLUSIVE unless a validated CHECK (col IS NOT NULL) exists.'),
  rule('locking/add-constraint-validation', 'error', 'A CHECK or FOREIGN KEY is added NOT VALID, then validated separately (validation under ACCESS EXCLUSIVE scans the table).'),
  rule('locking/add-unique-constraint', 'error', 'A UNIQUE/PRIMARY KEY/EXCLUDE constraint on an existing table is added USING INDEX built concurrently.'),
  rule('locking/vacuum-full', 'error', 'VACUUM FULL rewrites the table under ACCESS EXCLUSIVE.'),
  rule('locking/cluster', 'error', 'CLUSTER rewrites the table under ACCESS EXCLUSIVE.'),
  rule('locking/rename', 'error', 'Renaming a table or column breaks every running client that uses the old name.'),
  rule('timeouts/lock-timeout', 'error', 'Strong-lock DDL that the runner does not guard (step lock is not "strong", or a .sql file) is preceded by SET lock_timeout.'),
  rule('timeouts/concurrent-build', 'error', "CONCURRENTLY work runs without a short lock_timeout (step lock 'concurrent'; in .sql, RESET it first): a timeout cancels the build and leaves an INVALID index."),
  rule('feature/unrelated-tables', 'warning', 'One feature per migration: warns when the up steps touch more unrelated table groups than configured (default 3).'),
  rule('pgvector/ivfflat-empty-table', 'warning', 'An IVFFlat index built in the migration that creates its table is trained on no rows; build it after loading data, or use HNSW.'),
  rule('step/one-statement', 'error', 'Every step is exactly one SQL statement (the Data API takes one per call).'),
  rule('step/select-into', 'error', 'A transactional step does not use SELECT … INTO: the runner runs those steps through PL/pgSQL EXECUTE, which refuses it (use CREATE TABLE … AS).'),
  rule('step/transaction-control', 'error', 'Steps do not BEGIN/COMMIT/ROLLBACK themselves: the runner owns the transaction (mode transactional|standalone).'),
  rule('sql/parse-error', 'error', 'The SQL parses with the PostgreSQL parser.', false),
  rule('module/invalid', 'error', 'The migration module loads and default-exports defineMigration({...}).', false),
  rule('lint/disable-without-reason', 'error', 'Every lint.disable entry / offpeak-lint-disable directive gives a reason.', false),
  rule('lint/unknown-rule', 'error', 'A lint.disable entry / directive names a rule that exists.', false),
  rule('lint/unused-disable', 'warning', 'A lint.disable entry / directive suppresses something (stale overrides hide future problems).', false),
] as const satisfies readonly RuleInfo[];

export type RuleId = (typeof RULES)[number]['id'];

export const RULES_BY_ID: ReadonlyMap<string, RuleInfo> = new Map(RULES.map((r) => [r.id, r]));

export function isRuleId(id: string): id is RuleId {
  return RULES_BY_ID.has(id);
}

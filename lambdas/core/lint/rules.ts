/**
 * The lint rule catalog: every rule's id, default severity and what it guards. It is the single
 * source of `offpeak lint --rules` and of the generated reference in docs/lint-rules.md
 * (scripts/lint/rules-reference.ts; a test fails when the committed page drifts). Each rule's bad
 * and good examples live in rule-examples.ts, and each example is a test.
 */
export type Severity = 'error' | 'warning';

export interface RuleInfo<Id extends string = string> {
  id: Id;
  severity: Severity;
  /** What the rule guards, one sentence. */
  doc: string;
  /** False for the linter's own bookkeeping rules: they cannot be disabled or downgraded. */
  configurable: boolean;
  /** Destructive or client-breaking DDL: raises a migration's effective risk to at least medium. */
  raisesRisk: boolean;
}

const rule = <Id extends string>(id: Id, severity: Severity, doc: string, extra: { configurable?: boolean; raisesRisk?: boolean } = {}): RuleInfo<Id> => ({
  id,
  severity,
  doc,
  configurable: extra.configurable ?? true,
  raisesRisk: extra.raisesRisk ?? false,
});

export const RULES = [
  rule('naming/file-name', 'error', 'A migration file is named YYYYMMDDHHMM_short_name.ts: a real timestamp, then snake_case.'),
  rule('naming/one-migration-per-file', 'error', 'A file defines exactly one migration, as its default export.'),
  rule('rollback/plan-required', 'error', 'A migration whose effective risk is medium or high states a rollbackPlan (destructive or client-breaking DDL makes the risk at least medium, whatever is declared).'),
  rule('rollback/down-required', 'error', 'Every migration has down steps unless marked { irreversible: reason }; declared medium/high risk may not be irreversible.'),
  rule('rollback/irreversible-reason', 'error', 'An irreversible migration says why.'),
  rule('risk/understated', 'error', "A migration declared risk: 'low' does no destructive or client-breaking DDL (drops, truncates, renames): those make it at least medium."),
  rule('idempotency/create-index-if-not-exists', 'error', 'CREATE INDEX uses IF NOT EXISTS, so a re-run after a partial failure succeeds.'),
  rule('idempotency/drop-index-if-exists', 'error', 'DROP INDEX uses IF EXISTS, so a re-run after a partial failure succeeds.'),
  rule('idempotency/index-prefix', 'error', 'Index names start with the configured prefix (default idx_): index-health advice only covers those.'),
  rule('concurrency/create-index', 'error', 'CREATE INDEX on a table that already exists uses CONCURRENTLY (a plain build takes SHARE: writes wait for the whole build).'),
  rule('concurrency/drop-index', 'error', 'DROP INDEX of an index on an existing table uses CONCURRENTLY (a plain drop takes ACCESS EXCLUSIVE on the table).'),
  rule('concurrency/reindex', 'error', 'REINDEX of a table, index, schema or database uses CONCURRENTLY (a plain REINDEX blocks writes, and reads through the index).'),
  rule('concurrency/detach-partition', 'error', 'DETACH PARTITION uses CONCURRENTLY (a plain detach takes ACCESS EXCLUSIVE on the parent and the partition).'),
  rule('concurrency/in-transaction', 'error', 'CONCURRENTLY (and VACUUM) never runs inside a transaction: not in a transactional step, not inside BEGIN … COMMIT.'),
  rule('locking/add-column-volatile-default', 'error', "ADD COLUMN on an existing table has no volatile default (PostgreSQL's pg_proc decides): each row gets its own value, so the table is rewritten under ACCESS EXCLUSIVE."),
  rule('locking/add-column-unknown-default', 'warning', 'ADD COLUMN with a default calling a function PostgreSQL does not ship: treated as volatile (a rewrite) unless the configuration names it stable or immutable.'),
  rule('locking/add-column-serial', 'error', 'ADD COLUMN of a serial type or an identity column on an existing table: every row gets a sequence value, so the table is rewritten under ACCESS EXCLUSIVE.'),
  rule('locking/add-column-generated-stored', 'error', 'ADD COLUMN … GENERATED ALWAYS AS (…) STORED on an existing table computes every row: the table is rewritten under ACCESS EXCLUSIVE.'),
  rule('locking/alter-column-type', 'error', 'ALTER COLUMN … TYPE rewrites the table (and its indexes) under ACCESS EXCLUSIVE, except binary-coercible changes.'),
  rule('locking/set-not-null', 'error', 'SET NOT NULL scans the table under ACCESS EXCLUSIVE unless a validated CHECK (col IS NOT NULL) exists (from this or an ancestor migration).'),
  rule('locking/add-constraint-validation', 'error', 'A CHECK or FOREIGN KEY on an existing table is added NOT VALID (validating while adding scans the table under the ADD lock).'),
  rule('locking/validate-in-same-transaction', 'error', 'VALIDATE CONSTRAINT does not run in a transaction that already holds a strong lock on the table (e.g. the ADD CONSTRAINT … NOT VALID): the scan would run under that lock.'),
  rule('locking/add-unique-constraint', 'error', 'A UNIQUE or PRIMARY KEY constraint on an existing table is added USING INDEX, built concurrently first (otherwise the index is built under ACCESS EXCLUSIVE).'),
  rule('locking/add-exclusion-constraint', 'error', 'An EXCLUDE constraint on an existing table builds its index and checks every row under ACCESS EXCLUSIVE; PostgreSQL has no online way to add one.'),
  rule('locking/alter-domain-constraint', 'error', 'ALTER DOMAIN … ADD CONSTRAINT (validated), SET NOT NULL or VALIDATE CONSTRAINT scans every table using the domain under SHARE (writes wait).'),
  rule('locking/backfill-in-ddl-transaction', 'error', "A data change (UPDATE, DELETE, INSERT … SELECT, MERGE) does not run in the transaction that holds a strong lock on its table from DDL: every row it writes keeps the table locked."),
  rule('locking/vacuum-full', 'error', 'VACUUM FULL rewrites the table under ACCESS EXCLUSIVE.'),
  rule('locking/cluster', 'error', 'CLUSTER rewrites the table under ACCESS EXCLUSIVE.'),
  rule('locking/rename', 'error', 'Renaming a table or column breaks every running client that uses the old name.', { raisesRisk: true }),
  rule('destructive/drop-table', 'error', 'DROP TABLE of an existing table loses its data and breaks every client that uses it.', { raisesRisk: true }),
  rule('destructive/drop-column', 'error', 'DROP COLUMN on an existing table loses its data and breaks running clients that still read or write it.', { raisesRisk: true }),
  rule('destructive/truncate', 'error', 'TRUNCATE empties the table under ACCESS EXCLUSIVE (CASCADE also empties every table that references it).', { raisesRisk: true }),
  rule('destructive/drop-schema', 'error', 'DROP SCHEMA removes the schema (CASCADE: every table, view and function in it).', { raisesRisk: true }),
  rule('destructive/drop-database', 'error', 'DROP DATABASE has no place in a migration.', { raisesRisk: true }),
  rule('destructive/create-with-force', 'error', 'DROP TABLE [IF EXISTS] followed by CREATE TABLE of the same name ("create with force") silently replaces an existing table and its data.', { raisesRisk: true }),
  rule('compat/rename-enum-value', 'error', 'Renaming an enum value breaks every running client that reads or writes the old value.', { raisesRisk: true }),
  rule('compat/rename-schema', 'error', 'Renaming a schema breaks every running client that names it.', { raisesRisk: true }),
  rule('compat/drop-not-null', 'warning', 'DROP NOT NULL on an existing column lets NULLs into a column running clients assume is never NULL.'),
  rule('compat/json-column', 'warning', 'A new column is jsonb, not json: json has no equality operator, so SELECT DISTINCT, UNION and GROUP BY over it fail.'),
  rule('data/add-required-column', 'error', 'ADD COLUMN … NOT NULL on an existing table has a non-null default (or is generated/identity): otherwise it fails on any table with rows.'),
  rule('timeouts/lock-timeout', 'error', 'A statement that takes a strong lock (SHARE or above) on an existing table runs under a lock_timeout: the runner sets one for transactional steps declared lock: "strong"; elsewhere SET it (0 does not count).'),
  rule('timeouts/statement-timeout', 'error', "In a .sql file, strong-lock DDL runs under a statement_timeout that fits the Data API's 45 s (0 < timeout ≤ 45 s); a migration step never sets one outside that range."),
  rule('timeouts/concurrent-build', 'error', "CONCURRENTLY work runs without a short lock_timeout or a statement_timeout (step lock 'concurrent'; in .sql, RESET them first): a timeout cancels the build and leaves an INVALID index."),
  rule('timeouts/long-transactional-step', 'warning', "A transactional step does not do full-table work (VALIDATE CONSTRAINT, UPDATE/DELETE without WHERE, INSERT/CREATE TABLE … AS SELECT of a whole table, REFRESH MATERIALIZED VIEW): on a big table it can run past the Data API's 45 s statement timeout."),
  rule('feature/unrelated-tables', 'warning', 'One feature per migration: warns when the up steps touch more unrelated table groups than configured (default 3).'),
  rule('pgvector/ivfflat-empty-table', 'warning', 'An IVFFlat index built in the migration that creates its table is trained on no rows; build it after loading data, or use HNSW.'),
  rule('step/one-statement', 'error', 'Every step is exactly one SQL statement (the Data API takes one per call).'),
  rule('step/select-into', 'error', 'A transactional step does not use SELECT … INTO: the runner runs those steps through PL/pgSQL EXECUTE, which refuses it (use CREATE TABLE … AS).'),
  rule('step/transaction-control', 'error', 'Steps do not BEGIN/COMMIT/ROLLBACK themselves: the runner owns the transaction (mode transactional|standalone).'),
  rule('sql/parse-error', 'error', 'The SQL parses with the PostgreSQL parser.', { configurable: false }),
  rule('module/invalid', 'error', 'The migration module loads and default-exports defineMigration({...}).', { configurable: false }),
  rule('lint/disable-without-reason', 'error', 'Every disable (lint.disable entry, step lint.disable, offpeak-lint-disable directive) gives a reason.', { configurable: false }),
  rule('lint/unknown-rule', 'error', 'A disable names a rule that exists and can be disabled.', { configurable: false }),
  rule('lint/unused-disable', 'warning', 'A disable suppresses something (stale overrides hide future problems).', { configurable: false }),
] as const satisfies readonly RuleInfo[];

export type RuleId = (typeof RULES)[number]['id'];

export const RULES_BY_ID: ReadonlyMap<string, RuleInfo> = new Map(RULES.map((r) => [r.id, r]));

export function isRuleId(id: string): id is RuleId {
  return RULES_BY_ID.has(id);
}

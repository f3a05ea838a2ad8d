import type { RuleId } from './rules.ts';

/**
 * Bad and good examples of every rule: the rules reference in docs/lint-rules.md shows them, and
 * test/unit/lint/rule-examples.test.ts lints each one (a bad example must break its rule at the
 * rule's severity; a good one must give no violation at all).
 *
 * - `sql`: a .sql file, linted as psql runs it.
 * - `migration`: properties of defineMigration({...}), written into a migration module whose
 *   revision, downRevision, description and risk default to 'r1', 'r0', 'example' and 'low'.
 * - `source`: a whole module; MODEL stands for the import path of the migration model.
 * `file` names the file (default 202601011200_example.ts / example.sql).
 */
export type Example = { sql: string; file?: string } | { migration: string; file?: string } | { source: string; file?: string };

export interface RuleExamples {
  bad: Example[];
  /** Empty only where no migration should do the thing at all (said in `none`). */
  good: Example[];
  none?: string;
}

const T = "SET lock_timeout = '2s'; SET statement_timeout = '40s';\n";

export const RULE_EXAMPLES = {
  'naming/file-name': {
    bad: [{ file: 'add_user_email_index.ts', migration: "up: [createIndex({ name: 'idx_users_email', table: 'users', columns: ['email'] })]" }],
    good: [{ file: '202601011200_add_user_email_index.ts', migration: "up: [createIndex({ name: 'idx_users_email', table: 'users', columns: ['email'] })]" }],
  },
  'naming/one-migration-per-file': {
    bad: [
      {
        source: `import { createIndex, defineMigration } from 'MODEL';
export const second = defineMigration({ revision: 'r2', downRevision: 'r1', description: 'b', risk: 'low', up: [createIndex({ name: 'idx_users_name', table: 'users', columns: ['name'] })] });
export default defineMigration({ revision: 'r1', downRevision: 'r0', description: 'a', risk: 'low', up: [createIndex({ name: 'idx_users_email', table: 'users', columns: ['email'] })] });`,
      },
    ],
    good: [
      {
        source: `import { createIndex, defineMigration } from 'MODEL';
export default defineMigration({ revision: 'r1', downRevision: 'r0', description: 'a', risk: 'low', up: [createIndex({ name: 'idx_users_email', table: 'users', columns: ['email'] })] });`,
      },
    ],
  },
  'rollback/plan-required': {
    bad: [{ migration: "risk: 'medium',\nup: [createIndex({ name: 'idx_users_email', table: 'users', columns: ['email'], unique: true })]" }],
    good: [
      {
        migration:
          "risk: 'medium',\nrollbackPlan: '`offpeak downgrade r0` drops the index; nothing else changes',\nup: [createIndex({ name: 'idx_users_email', table: 'users', columns: ['email'], unique: true })]",
      },
    ],
  },
  'rollback/down-required': {
    bad: [{ migration: "up: [sqlStep('ALTER TABLE users ADD COLUMN nickname text')],\ndown: []" }],
    good: [{ migration: "up: [sqlStep('ALTER TABLE users ADD COLUMN nickname text')],\ndown: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS nickname')]" }],
  },
  'rollback/irreversible-reason': {
    bad: [{ migration: "up: [sqlStep(\"DELETE FROM sessions WHERE expires_at < now() - interval '1 year'\", { lock: 'none' })],\ndown: { irreversible: '' }" }],
    good: [{ migration: "up: [sqlStep(\"DELETE FROM sessions WHERE expires_at < now() - interval '1 year'\", { lock: 'none' })],\ndown: { irreversible: 'expired sessions are not worth restoring' }" }],
  },
  'risk/understated': {
    bad: [{ migration: "up: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS legacy_flag')],\ndown: [sqlStep('ALTER TABLE users ADD COLUMN IF NOT EXISTS legacy_flag boolean')]" }],
    good: [
      {
        migration: `risk: 'medium',
rollbackPlan: 'restore users.legacy_flag from the pre-deployment snapshot; the down step only recreates the empty column',
up: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS legacy_flag', { lint: { disable: [{ rule: 'destructive/drop-column', reason: 'unread since release 41' }] } })],
down: [sqlStep('ALTER TABLE users ADD COLUMN IF NOT EXISTS legacy_flag boolean')]`,
      },
    ],
  },
  'idempotency/create-index-if-not-exists': {
    bad: [{ sql: 'CREATE INDEX CONCURRENTLY idx_users_email ON users (email);' }],
    good: [{ sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email);' }],
  },
  'idempotency/drop-index-if-exists': {
    bad: [{ sql: 'DROP INDEX CONCURRENTLY idx_users_email;' }],
    good: [{ sql: 'DROP INDEX CONCURRENTLY IF EXISTS idx_users_email;' }],
  },
  'idempotency/index-prefix': {
    bad: [{ sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_lookup ON users (email);' }],
    good: [{ sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email);' }],
  },
  'concurrency/create-index': {
    bad: [{ sql: `${T}CREATE INDEX IF NOT EXISTS idx_users_email ON users (email);` }],
    good: [{ sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email);' }, { migration: "up: [createIndex({ name: 'idx_users_email', table: 'users', columns: ['email'] })]" }],
  },
  'concurrency/drop-index': {
    bad: [{ sql: `${T}DROP INDEX IF EXISTS idx_users_email;` }],
    good: [{ sql: 'DROP INDEX CONCURRENTLY IF EXISTS idx_users_email;' }],
  },
  'concurrency/reindex': {
    bad: [{ sql: `${T}REINDEX INDEX idx_users_email;` }, { sql: `${T}REINDEX (CONCURRENTLY false) TABLE users;` }],
    good: [{ sql: 'REINDEX (CONCURRENTLY) INDEX idx_users_email;' }, { sql: 'REINDEX SYSTEM;' }],
  },
  'concurrency/detach-partition': {
    bad: [{ sql: `${T}ALTER TABLE events DETACH PARTITION events_2024;` }],
    good: [{ sql: 'ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;' }],
  },
  'concurrency/in-transaction': {
    bad: [{ sql: 'BEGIN;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email);\nCOMMIT;' }, { migration: "up: [sqlStep('VACUUM (ANALYZE) users', { lock: 'none' })],\ndown: { irreversible: 'nothing to undo' }" }],
    good: [{ sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email);' }, { migration: "up: [sqlStep('VACUUM (ANALYZE) users', { mode: 'standalone', lock: 'none' })],\ndown: { irreversible: 'nothing to undo' }" }],
  },
  'locking/add-column-volatile-default': {
    bad: [{ sql: `${T}ALTER TABLE users ADD COLUMN api_token uuid DEFAULT gen_random_uuid();` }, { sql: `${T}ALTER TABLE users ADD COLUMN salt bytea DEFAULT gen_random_bytes(16);` }],
    good: [
      { sql: `${T}ALTER TABLE users ADD COLUMN api_token uuid;\nALTER TABLE users ALTER COLUMN api_token SET DEFAULT gen_random_uuid();` },
      { sql: `${T}ALTER TABLE users ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now();` },
    ],
  },
  'locking/add-column-unknown-default': {
    bad: [{ sql: `${T}ALTER TABLE users ADD COLUMN public_id text DEFAULT app.new_public_id();` }],
    good: [{ sql: `${T}ALTER TABLE users ADD COLUMN public_id text;\nALTER TABLE users ALTER COLUMN public_id SET DEFAULT app.new_public_id();` }],
  },
  'locking/add-column-serial': {
    bad: [{ sql: `${T}ALTER TABLE audit_log ADD COLUMN seq bigserial;` }, { sql: `${T}ALTER TABLE audit_log ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;` }],
    good: [
      {
        sql: `${T}ALTER TABLE audit_log ADD COLUMN seq bigint;\nCREATE SEQUENCE audit_log_seq_seq OWNED BY audit_log.seq;\nALTER TABLE audit_log ALTER COLUMN seq SET DEFAULT nextval('audit_log_seq_seq');`,
      },
    ],
  },
  'locking/add-column-generated-stored': {
    bad: [{ sql: `${T}ALTER TABLE users ADD COLUMN email_lower text GENERATED ALWAYS AS (lower(email)) STORED;` }],
    good: [
      {
        sql: `${T}ALTER TABLE users ADD COLUMN email_lower text;\nCREATE TRIGGER users_email_lower BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_email_lower();`,
      },
    ],
  },
  'locking/alter-column-type': {
    bad: [{ sql: `${T}ALTER TABLE dialogs ALTER COLUMN telegram_chat_id TYPE bigint;` }],
    good: [{ sql: `${T}ALTER TABLE dialogs ADD COLUMN telegram_chat_id_new bigint;` }],
  },
  'locking/set-not-null': {
    bad: [{ sql: `${T}ALTER TABLE users ALTER COLUMN email SET NOT NULL;` }],
    good: [
      {
        sql: `${T}ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\nALTER TABLE users DROP CONSTRAINT users_email_not_null;`,
      },
    ],
  },
  'locking/add-constraint-validation': {
    bad: [
      { sql: `${T}ALTER TABLE users ADD CONSTRAINT users_balance_positive CHECK (balance >= 0);` },
      { sql: `${T}ALTER TABLE dialogs ADD CONSTRAINT dialogs_user_fk FOREIGN KEY (user_id) REFERENCES users (id);` },
    ],
    good: [
      {
        sql: `${T}ALTER TABLE dialogs ADD CONSTRAINT dialogs_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\nALTER TABLE dialogs VALIDATE CONSTRAINT dialogs_user_fk;`,
      },
    ],
  },
  'locking/validate-in-same-transaction': {
    bad: [
      {
        migration: `up: [
  sqlStep('ALTER TABLE users ADD CONSTRAINT users_balance_positive CHECK (balance >= 0) NOT VALID'),
  sqlStep('ALTER TABLE users VALIDATE CONSTRAINT users_balance_positive', { lock: 'none' }),
],
down: [sqlStep('ALTER TABLE users DROP CONSTRAINT IF EXISTS users_balance_positive')]`,
      },
      { sql: `BEGIN;\n${T.replaceAll('SET ', 'SET LOCAL ')}ALTER TABLE users ADD CONSTRAINT users_balance_positive CHECK (balance >= 0) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT users_balance_positive;\nCOMMIT;` },
    ],
    good: [
      {
        migration: `up: [
  sqlStep('ALTER TABLE users ADD CONSTRAINT users_balance_positive CHECK (balance >= 0) NOT VALID'),
  sqlStep('ALTER TABLE users VALIDATE CONSTRAINT users_balance_positive', { mode: 'standalone', lock: 'none' }),
],
down: [sqlStep('ALTER TABLE users DROP CONSTRAINT IF EXISTS users_balance_positive')]`,
      },
    ],
  },
  'locking/add-unique-constraint': {
    bad: [{ sql: `${T}ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);` }],
    good: [
      {
        sql: `CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email);\n${T}ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX idx_users_email;`,
      },
    ],
  },
  'locking/add-exclusion-constraint': {
    bad: [{ sql: `${T}ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&);` }],
    good: [{ sql: 'CREATE TABLE bookings_v2 (id bigint PRIMARY KEY, room_id bigint, during tstzrange, EXCLUDE USING gist (room_id WITH =, during WITH &&));' }],
  },
  'locking/alter-domain-constraint': {
    bad: [{ sql: `${T}ALTER DOMAIN positive_amount ADD CONSTRAINT positive_amount_check CHECK (VALUE > 0);` }],
    good: [{ sql: 'ALTER DOMAIN positive_amount ADD CONSTRAINT positive_amount_check CHECK (VALUE > 0) NOT VALID;' }],
  },
  'locking/backfill-in-ddl-transaction': {
    bad: [
      {
        migration: "up: [\n  sqlStep('ALTER TABLE users ADD COLUMN locale text'),\n  sqlStep('UPDATE users SET locale = language_code', { lock: 'none' }),\n],\ndown: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS locale')]",
      },
    ],
    good: [
      { sql: `${T}ALTER TABLE users ADD COLUMN locale text;\nUPDATE users SET locale = language_code WHERE id >= 1 AND id < 10001;\nUPDATE users SET locale = language_code WHERE id >= 10001 AND id < 20001;` },
    ],
  },
  'locking/vacuum-full': {
    bad: [{ sql: `${T}VACUUM FULL dialog_messages;` }],
    good: [{ sql: 'VACUUM (ANALYZE) dialog_messages;' }, { sql: 'VACUUM (FULL false) dialog_messages;' }],
  },
  'locking/cluster': {
    bad: [{ sql: `${T}CLUSTER dialog_messages USING idx_dialog_messages_dialog_id_created_at;` }],
    good: [{ sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_dialog_messages_dialog_id_created_at ON dialog_messages (dialog_id, created_at);' }],
  },
  'locking/rename': {
    bad: [{ sql: `${T}ALTER TABLE users RENAME COLUMN first_name TO given_name;` }],
    good: [{ sql: `${T}ALTER TABLE users ADD COLUMN given_name text;` }],
  },
  'destructive/drop-table': {
    bad: [{ sql: `${T}DROP TABLE IF EXISTS promo_codes;` }],
    good: [{ sql: `${T}-- offpeak-lint-disable-next-statement destructive/drop-table: unused since release 41 (pg_stat_user_tables shows no reads)\nDROP TABLE IF EXISTS promo_codes;` }],
  },
  'destructive/drop-column': {
    bad: [{ sql: `${T}ALTER TABLE users DROP COLUMN IF EXISTS legacy_flag;` }],
    good: [{ sql: `${T}ALTER TABLE users DROP COLUMN IF EXISTS legacy_flag; -- offpeak-lint-disable-line destructive/drop-column: unread since release 41` }],
  },
  'destructive/truncate': {
    bad: [{ sql: `${T}TRUNCATE sessions CASCADE;` }],
    good: [{ sql: "DELETE FROM sessions WHERE expires_at < now() - interval '30 days' AND id < 100000;" }],
  },
  'destructive/drop-schema': {
    bad: [{ sql: 'DROP SCHEMA legacy CASCADE;' }],
    good: [{ sql: 'DROP SCHEMA legacy; -- offpeak-lint-disable-line destructive/drop-schema: emptied by the previous release' }],
  },
  'destructive/drop-database': {
    bad: [{ sql: 'DROP DATABASE IF EXISTS analytics;' }],
    good: [],
    none: 'a database is dropped by hand, after a backup, never by a migration',
  },
  'destructive/create-with-force': {
    bad: [{ sql: `${T}DROP TABLE IF EXISTS promo_codes;\nCREATE TABLE promo_codes (id bigint PRIMARY KEY, code text NOT NULL);` }],
    good: [{ sql: 'CREATE TABLE IF NOT EXISTS promo_codes (id bigint PRIMARY KEY, code text NOT NULL);' }],
  },
  'compat/rename-enum-value': {
    bad: [{ sql: "ALTER TYPE dialog_status RENAME VALUE 'done' TO 'completed';" }],
    good: [{ sql: "ALTER TYPE dialog_status ADD VALUE IF NOT EXISTS 'completed' AFTER 'done';" }],
  },
  'compat/rename-schema': {
    bad: [{ sql: 'ALTER SCHEMA billing RENAME TO payments;' }],
    good: [{ sql: 'CREATE SCHEMA IF NOT EXISTS payments;\nCREATE VIEW payments.invoices AS SELECT * FROM billing.invoices;' }],
  },
  'compat/drop-not-null': {
    bad: [{ sql: `${T}ALTER TABLE users ALTER COLUMN email DROP NOT NULL;` }],
    good: [{ sql: `${T}ALTER TABLE users ALTER COLUMN email DROP NOT NULL; -- offpeak-lint-disable-line compat/drop-not-null: every client handles a NULL email since release 42` }],
  },
  'compat/json-column': {
    bad: [{ sql: `${T}ALTER TABLE users ADD COLUMN preferences json;` }],
    good: [{ sql: `${T}ALTER TABLE users ADD COLUMN preferences jsonb;` }],
  },
  'data/add-required-column': {
    bad: [{ sql: `${T}ALTER TABLE users ADD COLUMN tier text NOT NULL;` }],
    good: [{ sql: `${T}ALTER TABLE users ADD COLUMN tier text NOT NULL DEFAULT 'free';` }],
  },
  'timeouts/lock-timeout': {
    bad: [
      { sql: "SET statement_timeout = '40s';\nALTER TABLE users ADD COLUMN nickname text;" },
      { sql: "SET lock_timeout = '0s'; SET statement_timeout = '40s';\nCREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();" },
      { migration: "up: [sqlStep('ALTER TABLE users ADD COLUMN nickname text', { lock: 'none' })],\ndown: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS nickname', { lock: 'none' })]" },
      { migration: "up: [sqlStep('ALTER TABLE users ADD COLUMN nickname text', { mode: 'standalone' })],\ndown: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS nickname')]" },
    ],
    good: [
      { sql: `${T}ALTER TABLE users ADD COLUMN nickname text;` },
      { migration: "up: [sqlStep('ALTER TABLE users ADD COLUMN nickname text')],\ndown: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS nickname')]" },
    ],
  },
  'timeouts/statement-timeout': {
    bad: [{ sql: "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN nickname text;" }, { sql: "SET lock_timeout = '2s'; SET statement_timeout = '1h';\nALTER TABLE users ADD COLUMN nickname text;" }],
    good: [{ sql: `${T}ALTER TABLE users ADD COLUMN nickname text;` }],
  },
  'timeouts/concurrent-build': {
    bad: [
      { sql: `${T}ALTER TABLE users ADD COLUMN nickname text;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_nickname ON users (nickname);` },
      { migration: "up: [sqlStep('CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email)', { mode: 'standalone' })],\ndown: [sqlStep('DROP INDEX CONCURRENTLY IF EXISTS idx_users_email', { mode: 'standalone', lock: 'concurrent' })]" },
    ],
    good: [
      { sql: `${T}ALTER TABLE users ADD COLUMN nickname text;\nRESET lock_timeout; RESET statement_timeout;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_nickname ON users (nickname);` },
      { migration: "up: [sqlStep('CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email)', { mode: 'standalone', lock: 'concurrent' })],\ndown: [sqlStep('DROP INDEX CONCURRENTLY IF EXISTS idx_users_email', { mode: 'standalone', lock: 'concurrent' })]" },
    ],
  },
  'timeouts/long-transactional-step': {
    bad: [{ migration: "up: [sqlStep('UPDATE users SET language_code = lower(language_code)', { lock: 'none' })],\ndown: { irreversible: 'the original case is not kept' }" }],
    good: [
      {
        migration:
          "up: [\n  sqlStep('UPDATE users SET language_code = lower(language_code) WHERE id >= 1 AND id < 50001', { lock: 'none' }),\n  sqlStep('UPDATE users SET language_code = lower(language_code) WHERE id >= 50001 AND id < 100001', { lock: 'none' }),\n],\ndown: { irreversible: 'the original case is not kept' }",
      },
    ],
  },
  'feature/unrelated-tables': {
    bad: [
      {
        sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_documents_status ON documents (status);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_promo_codes_code ON promo_codes (code);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_handoff_audit_created_at ON handoff_audit (created_at);',
      },
    ],
    good: [{ sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_dialogs_user_id ON dialogs (user_id);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_dialog_messages_dialog_id ON dialog_messages (dialog_id);' }],
  },
  'pgvector/ivfflat-empty-table': {
    bad: [{ sql: 'CREATE TABLE chunks (id bigint PRIMARY KEY, embedding vector(3));\nCREATE INDEX IF NOT EXISTS idx_chunks_embedding ON chunks USING ivfflat (embedding vector_l2_ops) WITH (lists = 100);' }],
    good: [{ sql: 'CREATE TABLE chunks (id bigint PRIMARY KEY, embedding vector(3));\nCREATE INDEX IF NOT EXISTS idx_chunks_embedding ON chunks USING hnsw (embedding vector_l2_ops);' }],
  },
  'step/one-statement': {
    bad: [{ migration: "up: [sqlStep('ALTER TABLE users ADD COLUMN a text; ALTER TABLE users ADD COLUMN b text')],\ndown: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS a'), sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS b')]" }],
    good: [
      {
        migration:
          "up: [sqlStep('ALTER TABLE users ADD COLUMN a text'), sqlStep('ALTER TABLE users ADD COLUMN b text')],\ndown: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS b'), sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS a')]",
      },
    ],
  },
  'step/select-into': {
    bad: [{ migration: "up: [sqlStep('SELECT id, email INTO users_backup FROM users WHERE id < 100', { lock: 'none' })],\ndown: [sqlStep('DROP TABLE IF EXISTS users_backup')]" }],
    good: [{ migration: "up: [sqlStep('CREATE TABLE users_backup AS SELECT id, email FROM users WHERE id < 100', { lock: 'none' })],\ndown: [sqlStep('DROP TABLE IF EXISTS users_backup')]" }],
  },
  'step/transaction-control': {
    bad: [{ migration: "up: [sqlStep('BEGIN', { lock: 'none' }), sqlStep('ALTER TABLE users ADD COLUMN nickname text'), sqlStep('COMMIT', { lock: 'none' })],\ndown: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS nickname')]" }],
    good: [{ migration: "up: [sqlStep('ALTER TABLE users ADD COLUMN nickname text')],\ndown: [sqlStep('ALTER TABLE users DROP COLUMN IF EXISTS nickname')]" }],
  },
  'sql/parse-error': {
    bad: [{ sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email;' }],
    good: [{ sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email);' }],
  },
  'module/invalid': {
    bad: [{ source: "import { defineMigration } from 'MODEL';\nexport const migration = defineMigration;" }],
    good: [{ source: "import { createIndex, defineMigration } from 'MODEL';\nexport default defineMigration({ revision: 'r1', downRevision: 'r0', description: 'a', risk: 'low', up: [createIndex({ name: 'idx_users_email', table: 'users', columns: ['email'] })] });" }],
  },
  'lint/disable-without-reason': {
    bad: [{ sql: `${T}-- offpeak-lint-disable-next-statement locking/rename\nALTER TABLE users RENAME COLUMN first_name TO given_name;` }],
    good: [{ sql: `${T}-- offpeak-lint-disable-next-statement locking/rename: the app reads both names since release 41\nALTER TABLE users RENAME COLUMN first_name TO given_name;` }],
  },
  'lint/unknown-rule': {
    bad: [{ sql: `${T}-- offpeak-lint-disable-next-statement locking/renames: the app reads both names since release 41\nALTER TABLE users RENAME COLUMN first_name TO given_name;` }],
    good: [{ sql: `${T}-- offpeak-lint-disable-next-statement locking/rename: the app reads both names since release 41\nALTER TABLE users RENAME COLUMN first_name TO given_name;` }],
  },
  'lint/unused-disable': {
    bad: [{ sql: `${T}-- offpeak-lint-disable-next-statement locking/rename: stale, the rename was dropped from this file\nALTER TABLE users ADD COLUMN given_name text;` }],
    good: [{ sql: `${T}ALTER TABLE users ADD COLUMN given_name text;` }],
  },
} as const satisfies Record<RuleId, RuleExamples>;

import { describe, expect, it } from 'vitest';
import { resolveLintConfig, type LintConfigInput } from '../../../lambdas/core/lint/config.ts';
import { lintSqlText } from '../../../lambdas/core/lint/sql-file.ts';

/**
 * Statement rules on small .sql texts: option values in every spelling PostgreSQL accepts,
 * volatility from pg_proc, the strong-lock list, timeout values, and known false positives.
 */
const TIMEOUTS = "SET lock_timeout = '2s'; SET statement_timeout = '40s';\n";

async function rules(text: string, config: LintConfigInput = {}): Promise<string[]> {
  const violations = await lintSqlText('x.sql', text, resolveLintConfig(config));
  return [...new Set(violations.map((v) => v.rule))].sort();
}

describe('option values are read from the parse tree', () => {
  it.each(['CONCURRENTLY false', "CONCURRENTLY 'false'", "CONCURRENTLY E'false'", "CONCURRENTLY U&'false'", 'CONCURRENTLY off', 'CONCURRENTLY 0', "CONCURRENTLY 'no'", 'CONCURRENTLY FALSE'])(
    'REINDEX (%s) is not concurrent',
    async (option) => {
      expect(await rules(`${TIMEOUTS}REINDEX (${option}) INDEX idx_users_email`)).toEqual(['concurrency/reindex']);
    },
  );

  it.each(['CONCURRENTLY', 'CONCURRENTLY true', "CONCURRENTLY 'on'", 'CONCURRENTLY 1', 'CONCURRENTLY yes', "CONCURRENTLY 't'"])('REINDEX (%s) is concurrent', async (option) => {
    expect(await rules(`REINDEX (${option}) INDEX idx_users_email`)).toEqual([]);
  });

  it.each(['FULL false', "FULL 'false'", "FULL E'false'", "FULL U&'false'", 'FULL off', 'FULL 0', 'FULL FALSE, ANALYZE'])('VACUUM (%s) is not VACUUM FULL', async (option) => {
    expect(await rules(`VACUUM (${option}) dialog_messages`)).toEqual([]);
  });

  it.each(['FULL', 'FULL true', "FULL 'on'", 'FULL 1', 'FULL, ANALYZE'])('VACUUM (%s) is VACUUM FULL', async (option) => {
    expect(await rules(`${TIMEOUTS}VACUUM (${option}) dialog_messages`)).toEqual(['locking/vacuum-full']);
  });

  it('the last spelling of an option wins, as in PostgreSQL', async () => {
    expect(await rules('REINDEX (CONCURRENTLY false, CONCURRENTLY true) TABLE users')).toEqual([]);
  });
});

describe('known false positives stay quiet', () => {
  it.each([
    ['REINDEX SYSTEM (catalogs only; it has no CONCURRENTLY form)', 'REINDEX SYSTEM'],
    ['SET (fillfactor) takes SHARE UPDATE EXCLUSIVE', 'ALTER TABLE users SET (fillfactor = 70)'],
    ['RESET (autovacuum_*) likewise', 'ALTER TABLE users RESET (autovacuum_vacuum_scale_factor)'],
    ['weak LOCK modes', 'BEGIN; LOCK TABLE users IN ROW EXCLUSIVE MODE; LOCK TABLE users IN SHARE UPDATE EXCLUSIVE MODE; LOCK TABLE users IN ACCESS SHARE MODE; COMMIT'],
    ['COMMENT ON', "COMMENT ON TABLE users IS 'people'"],
    ['VALIDATE CONSTRAINT alone', 'ALTER TABLE users VALIDATE CONSTRAINT users_email_check'],
    ['SET STATISTICS', 'ALTER TABLE users ALTER COLUMN email SET STATISTICS 500'],
    ['a constant default (stored in the catalog since PostgreSQL 11)', `${TIMEOUTS}ALTER TABLE users ADD COLUMN tier text NOT NULL DEFAULT 'free'`],
    ['stable and immutable defaults', `${TIMEOUTS}ALTER TABLE users ADD COLUMN a timestamptz DEFAULT now(); ALTER TABLE users ADD COLUMN b timestamptz DEFAULT current_timestamp; ALTER TABLE users ADD COLUMN c int DEFAULT 2 + 2; ALTER TABLE users ADD COLUMN d jsonb DEFAULT '{}'::jsonb; ALTER TABLE users ADD COLUMN e timestamptz NOT NULL DEFAULT now() - interval '100 years'; ALTER TABLE users ADD COLUMN f double precision[] DEFAULT array[]::double precision[]; ALTER TABLE users ADD COLUMN g text DEFAULT lower('X')`],
    ['CREATE INDEX CONCURRENTLY outside a transaction', 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email)'],
    ['DETACH PARTITION CONCURRENTLY', 'ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY'],
    ['DROP TABLE of a table created in the same file', `${TIMEOUTS}CREATE TABLE scratch (id int); DROP TABLE scratch`],
    ['DROP COLUMN of a column added in the same file', `${TIMEOUTS}ALTER TABLE users ADD COLUMN tmp int; ALTER TABLE users DROP COLUMN tmp`],
    ['INSERT … VALUES in the DDL transaction (writes only its rows)', `BEGIN; ${TIMEOUTS.replaceAll('SET ', 'SET LOCAL ')}ALTER TABLE settings ADD COLUMN note text; INSERT INTO settings (key, note) VALUES ('a', 'b'); COMMIT`],
    ['a backfill after COMMIT', `BEGIN; ${TIMEOUTS.replaceAll('SET ', 'SET LOCAL ')}ALTER TABLE users ADD COLUMN locale text; COMMIT; UPDATE users SET locale = language_code WHERE id < 1000`],
    ['a NOT NULL column with a default, generated or identity', `${TIMEOUTS}ALTER TABLE users ADD COLUMN tier text NOT NULL DEFAULT 'free'; ALTER TABLE users ADD COLUMN v int GENERATED ALWAYS AS (1) VIRTUAL NOT NULL`],
    ['an enum value added', "ALTER TYPE dialog_status ADD VALUE IF NOT EXISTS 'archived'"],
    ['a new table with json', 'CREATE TABLE raw_events (payload json)'],
  ])('%s', async (_, text) => {
    expect(await rules(text)).toEqual([]);
  });
});

describe('volatility comes from pg_proc', () => {
  it.each([
    ['random()', 'random'],
    ['pg_catalog.random()', 'random'],
    ['clock_timestamp()', 'clock_timestamp'],
    ["nextval('users_seq')", 'nextval'],
    ['gen_random_uuid()', 'gen_random_uuid'],
    ['gen_random_bytes(16)', 'pgcrypto'],
    ['uuid_generate_v4()', 'uuid-ossp'],
    ['(random() * 100)::int', 'random'],
    ['md5(random()::text)', 'random'],
  ])('DEFAULT %s is volatile', async (expr, named) => {
    const violations = await lintSqlText('x.sql', `${TIMEOUTS}ALTER TABLE users ADD COLUMN c text DEFAULT ${expr}`, resolveLintConfig({}));
    expect(violations.map((v) => v.rule)).toEqual(['locking/add-column-volatile-default']);
    expect(violations[0]!.message).toContain(named);
    expect(violations[0]!.message).toMatch(/users is rewritten under ACCESS EXCLUSIVE/);
  });

  it.each(['uuid()', 'myjsonb()', 'app.random()', 'app.now()'])('DEFAULT %s (not PostgreSQL\'s) warns', async (expr) => {
    const violations = await lintSqlText('x.sql', `${TIMEOUTS}ALTER TABLE users ADD COLUMN c text DEFAULT ${expr}`, resolveLintConfig({}));
    expect(violations.map((v) => [v.rule, v.severity])).toEqual([['locking/add-column-unknown-default', 'warning']]);
  });

  it('the configuration names a function stable, immutable or volatile', async () => {
    const text = `${TIMEOUTS}ALTER TABLE users ADD COLUMN c text DEFAULT app.tenant_default(); ALTER TABLE users ADD COLUMN d uuid DEFAULT uuid()`;
    expect(await rules(text, { functions: { 'app.tenant_default': 'stable', uuid: 'immutable' } })).toEqual([]);
    expect(await rules(text, { functions: { 'app.tenant_default': 'stable', UUID: 'volatile' } })).toEqual(['locking/add-column-volatile-default']);
    expect(() => resolveLintConfig({ functions: { uuid: 'sometimes' } })).toThrow(/functions\.uuid/);
  });
});

describe('the strong-lock list', () => {
  it.each([
    'CREATE TRIGGER trg BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION touch()',
    'DROP TRIGGER IF EXISTS trg ON users',
    'CREATE POLICY own_rows ON users USING (id = current_setting($$app.user_id$$)::bigint)',
    'CREATE OR REPLACE VIEW active_users AS SELECT * FROM users WHERE is_active',
    'DROP VIEW IF EXISTS active_users',
    'REFRESH MATERIALIZED VIEW user_stats',
    'ALTER SEQUENCE users_id_seq RESTART WITH 1000',
    'CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM (1) TO (2)',
    'ALTER TABLE users ENABLE TRIGGER trg',
    'LOCK TABLE users IN SHARE MODE',
    'CREATE RULE no_delete AS ON DELETE TO users DO INSTEAD NOTHING',
    'ALTER TABLE users OWNER TO app',
  ])('%s needs a lock_timeout', async (statement) => {
    const violations = await lintSqlText('x.sql', `SET statement_timeout = '40s';\n${statement}`, resolveLintConfig({}));
    expect(violations.map((v) => v.rule)).toContain('timeouts/lock-timeout');
  });

  it.each(["SET lock_timeout = '0s'", "SET lock_timeout = '0ms'", "SET lock_timeout = '0'", 'SET lock_timeout = 0', 'SET lock_timeout TO DEFAULT', 'RESET lock_timeout', "SET lock_timeout = '2s'; RESET lock_timeout"])(
    '%s does not count as a lock_timeout',
    async (set) => {
      expect(await rules(`SET statement_timeout = '40s'; ${set};\nALTER TABLE users ADD COLUMN nickname text`)).toEqual(['timeouts/lock-timeout']);
    },
  );

  it.each(["SET lock_timeout = '2s'", "SET lock_timeout = '1.5s'", 'SET lock_timeout = 2000', "SET lock_timeout = '1min'", "SELECT set_config('lock_timeout', '2s', false)"])('%s counts', async (set) => {
    expect(await rules(`SET statement_timeout = '40s'; ${set};\nALTER TABLE users ADD COLUMN nickname text`)).toEqual([]);
  });

  it.each(["SET statement_timeout = '46s'", "SET statement_timeout = '1h'", 'SET statement_timeout = 60000'])('%s does not fit the Data API', async (set) => {
    expect(await rules(`SET lock_timeout = '2s'; ${set};\nALTER TABLE users ADD COLUMN nickname text`)).toEqual(['timeouts/statement-timeout']);
  });

  it('a statement_timeout in force cancels a concurrent build: RESET it first', async () => {
    expect(await rules(`${TIMEOUTS}CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email)`)).toEqual(['timeouts/concurrent-build']);
    expect(await rules(`${TIMEOUTS}RESET lock_timeout; RESET statement_timeout; CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email ON users (email)`)).toEqual([]);
  });
});

describe('directives', () => {
  it('a directive inside a string literal or a dollar-quoted body is not one', async () => {
    const text = `${TIMEOUTS}SELECT '-- offpeak-lint-disable locking/rename: not a comment';\nDO $$ BEGIN RAISE NOTICE '-- offpeak-lint-disable-next-statement locking/rename: nor this'; END $$;\nALTER TABLE users RENAME COLUMN a TO b;`;
    expect(await rules(text)).toEqual(['locking/rename']);
  });

  it('same-line directive: after the semicolon, or inside a multi-line statement', async () => {
    const text = `${TIMEOUTS}ALTER TABLE users RENAME COLUMN a TO b; -- offpeak-lint-disable-line locking/rename: the app reads both since release 41
ALTER TABLE users
  RENAME COLUMN c TO d /* offpeak-lint-disable-line locking/rename: ditto */;
ALTER TABLE users RENAME COLUMN e TO f;`;
    const violations = await lintSqlText('x.sql', text, resolveLintConfig({}));
    expect(violations.map((v) => [v.rule, v.line])).toEqual([['locking/rename', 5]]);
  });

  it('a same-line directive without a reason, or naming another rule, does not apply', async () => {
    const text = `${TIMEOUTS}ALTER TABLE users RENAME COLUMN a TO b; -- offpeak-lint-disable-line locking/rename\nALTER TABLE users RENAME COLUMN c TO d; -- offpeak-lint-disable-line locking/cluster: wrong rule`;
    expect(await rules(text)).toEqual(['lint/disable-without-reason', 'lint/unused-disable', 'locking/rename']);
  });
});

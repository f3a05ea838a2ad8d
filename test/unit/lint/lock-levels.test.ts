import type { Node } from 'libpg-query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStatements } from '../../../lambdas/core/db/statements.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { isStrong, statementLocks, strength, type LockMode } from '../../../lambdas/core/lint/lock-levels.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { locksTaken } from './lock-probe.ts';

/**
 * lock-levels.ts against the real thing: every statement's claimed locks equal what PostgreSQL
 * (or PGlite) holds afterwards, per relation; a statement claimed weak holds nothing strong.
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  for (const s of [
    'CREATE SCHEMA s2',
    'CREATE TABLE t (id int PRIMARY KEY, a int)',
    'CREATE INDEX t_a_idx ON t (a)',
    'ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a > 0) NOT VALID',
    'CREATE TABLE u (id int PRIMARY KEY, t_id int)',
    'CREATE TABLE p (k int) PARTITION BY LIST (k)',
    'CREATE TABLE p2 PARTITION OF p FOR VALUES IN (2)',
    'CREATE TABLE p4 (k int)',
    'CREATE SEQUENCE seq',
    'CREATE DOMAIN positive AS int',
    'CREATE TABLE dt (x positive)',
    'CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x',
    'CREATE UNIQUE INDEX mv_x ON mv (x)',
    'CREATE VIEW v AS SELECT 1 AS x',
    'CREATE FUNCTION trg_fn() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$',
    'CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg_fn()',
  ]) {
    await db.client.query(sql`${sql.raw(s)}`);
  }
});
afterAll(() => db?.dispose());

/** statement, and for a claim that names no relation (a domain's tables), the relation it means. */
const CASES: Array<[string, Record<string, string>?]> = [
  ['ALTER TABLE t ADD COLUMN c int'],
  ['ALTER TABLE t SET (fillfactor = 70)'],
  ['ALTER TABLE t RESET (fillfactor)'],
  ['ALTER TABLE t SET (autovacuum_enabled = false)'],
  ['ALTER TABLE t VALIDATE CONSTRAINT t_a_positive'],
  ['ALTER TABLE t ALTER COLUMN a SET STATISTICS 100'],
  ['ALTER TABLE t ALTER COLUMN a SET (n_distinct = 5)'],
  ['ALTER TABLE t CLUSTER ON t_pkey'],
  ['ALTER TABLE t ENABLE TRIGGER trg'],
  ['ALTER TABLE t DISABLE TRIGGER trg'],
  ['ALTER TABLE u ADD CONSTRAINT u_t_fk FOREIGN KEY (t_id) REFERENCES t (id) NOT VALID'],
  ['ALTER TABLE t ADD CONSTRAINT t_a_small CHECK (a < 100) NOT VALID'],
  ['ALTER TABLE t ALTER COLUMN a SET NOT NULL'],
  ['ALTER TABLE t ALTER COLUMN a DROP NOT NULL'],
  ['ALTER TABLE t ALTER COLUMN a SET DEFAULT 1'],
  ['ALTER TABLE t RENAME COLUMN a TO b'],
  ['ALTER TABLE t RENAME TO t_renamed'],
  ['ALTER TABLE t SET SCHEMA s2'],
  ['ALTER TABLE p DETACH PARTITION p2'],
  ['ALTER TABLE p ATTACH PARTITION p4 FOR VALUES IN (4)'],
  ['CREATE TABLE p3 PARTITION OF p FOR VALUES IN (3)'],
  ['CREATE TABLE w (id int, t_id int REFERENCES t (id))'],
  ['CREATE INDEX t_id_a_idx ON t (id, a)'],
  ['DROP INDEX t_a_idx'],
  ['REINDEX TABLE t'],
  ['REINDEX INDEX t_a_idx'],
  ['ALTER INDEX t_a_idx RENAME TO t_a_index'],
  ['DROP TABLE u'],
  ['TRUNCATE u'],
  ['LOCK TABLE t'],
  ['LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE'],
  ['LOCK TABLE t IN ROW EXCLUSIVE MODE'],
  ['LOCK TABLE t IN ACCESS SHARE MODE'],
  ['LOCK TABLE t IN SHARE MODE'],
  ['LOCK TABLE t IN EXCLUSIVE MODE'],
  ['CREATE TRIGGER trg2 AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg_fn()'],
  ['DROP TRIGGER trg ON t'],
  ['CREATE POLICY t_policy ON t USING (true)'],
  ['CREATE RULE t_rule AS ON INSERT TO u DO NOTHING'],
  ['CREATE OR REPLACE VIEW v AS SELECT 1 AS x'],
  ['DROP VIEW v'],
  ['REFRESH MATERIALIZED VIEW mv'],
  ['REFRESH MATERIALIZED VIEW CONCURRENTLY mv'],
  ['ALTER SEQUENCE seq RESTART'],
  ['ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0)', { 'every table with a column of domain positive': 'public.dt' }],
  ['ALTER DOMAIN positive SET NOT NULL', { 'every table with a column of domain positive': 'public.dt' }],
  ['ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0) NOT VALID'],
  ['CLUSTER t USING t_pkey'],
  ['COMMENT ON TABLE t IS $$x$$'],
  ['CREATE STATISTICS t_stats ON id, a FROM t'],
  ['ANALYZE t'],
  ['UPDATE t SET a = 1'],
  ['INSERT INTO u SELECT id, id FROM t'],
];

const lookup = { indexTable: (name: string) => ({ t_a_idx: 'public.t', t_pkey: 'public.t' })[name] };

describe('lock levels', () => {
  it.each(CASES)('%s', async (statement, unnamed = {}) => {
    // Prepare
    const [parsed] = await parseStatements(statement);
    const claimed = new Map<string, LockMode>();
    for (const lock of statementLocks(parsed!.node as Node, lookup)) {
      const relation = lock.relation ?? unnamed[lock.label];
      if (!relation) throw new Error(`${statement}: claim on ${lock.label} names no relation; map it in the case`);
      const held = claimed.get(relation);
      if (!held || strength(lock.mode) > strength(held)) claimed.set(relation, lock.mode);
    }
    // Act
    const real = await locksTaken(db.client, statement);
    // Assess: each claimed relation is locked exactly that strongly; nothing else is locked strongly.
    for (const [relation, mode] of claimed) expect({ relation, mode: real.get(relation) }).toEqual({ relation, mode });
    const strongElsewhere = [...real].filter(([relation, mode]) => !claimed.has(relation) && isStrong(mode) && !relation.endsWith('_idx') && !relation.endsWith('_pkey') && relation !== 'public.mv_x');
    expect(strongElsewhere).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialect, SqlClient } from '../../../lambdas/core/db/client.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { DatabaseError } from '../../../lambdas/core/errors.ts';
import { lacks } from '../../support/prerequisites.ts';

/**
 * The one SqlClient contract, run unchanged against every adapter (pg, PGlite,
 * Data API through the local server). Each adapter's file only says how to open it.
 */
export interface ContractSubject {
  client: SqlClient;
  /** pgvector can be created on this database. */
  hasVector: boolean;
  dispose(): Promise<void>;
}

export interface ContractTarget {
  dialect: Dialect;
  /** Why the suite is skipped here, if it is (shown in the test name, so skips are visible). */
  skip?: string | undefined;
  open(): Promise<ContractSubject>;
}

/** Polls until `check` is true: long statements may come back still running. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function expectDatabaseError(promise: Promise<unknown>, sqlState: string, message: RegExp): Promise<DatabaseError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatabaseError);
  expect((error as DatabaseError).sqlState).toBe(sqlState);
  expect((error as DatabaseError).message).toMatch(message);
  expect((error as DatabaseError).cause).toBeDefined();
  return error as DatabaseError;
}

export function defineSqlClientContract(target: ContractTarget): void {
  const title = `SqlClient contract: ${target.dialect}${target.skip ? ` (skipped: ${target.skip})` : ''}`;
  (target.skip ? describe.skip : describe)(title, () => {
    let subject: ContractSubject;
    let db: SqlClient;

    beforeAll(async () => {
      subject = await target.open();
      db = subject.client;
    });
    afterAll(async () => {
      await subject?.dispose();
    });

    it('reports its dialect', () => {
      expect(db.dialect).toBe(target.dialect);
    });

    it('round-trips every canonical type through parameters and results', async () => {
      // Prepare
      await db.query(sql`
        CREATE TABLE roundtrip (
          i2 int2, i4 int4, i8 int8, big int8, f8 float8, num numeric(40, 12), b bool, t text, v varchar(20),
          u uuid, j json, jb jsonb, tz timestamptz, ts timestamp, d date, tm time, by bytea
        )`);
      const when = new Date('2024-02-29T23:59:58.123Z');
      const bytes = new Uint8Array([0, 1, 127, 128, 255]);
      const doc = { name: 'ä "quoted"', list: [1, 2.5, null, true], nested: { x: 'y' } };

      // Act
      const inserted = await db.query(sql`
        INSERT INTO roundtrip VALUES (
          ${-32768}, ${2147483647}, ${9007199254740991}, ${9223372036854775807n}, ${-0.125}, ${sql.decimal('1234567890123456789012345678.123456789012')},
          ${true}, ${"it's ☃"}, ${'varchar'}, ${sql.uuid('1b4e28ba-2fa1-11d2-883f-0016d3cca427')}::uuid,
          ${sql.json(doc)}::json, ${sql.json(doc)}::jsonb, ${when}, ${when}, ${sql.date('2024-02-29')}::date, ${sql.time('13:14:15.5')}::time, ${bytes}
        )`);
      await db.query(sql`INSERT INTO roundtrip DEFAULT VALUES`);
      const { rows } = await db.query(sql`SELECT *, big::text AS big_text FROM roundtrip ORDER BY i2 NULLS LAST`);

      // Assess
      expect(inserted.rowCount).toBe(1);
      expect(rows[0]).toEqual({
        i2: -32768,
        i4: 2147483647,
        i8: 9007199254740991,
        big: Number(9223372036854775807n),
        big_text: '9223372036854775807',
        f8: -0.125,
        num: '1234567890123456789012345678.123456789012',
        b: true,
        t: "it's ☃",
        v: 'varchar',
        u: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
        j: doc,
        jb: doc,
        tz: when,
        ts: when,
        d: '2024-02-29',
        tm: '13:14:15.5',
        by: bytes,
      });
      expect(rows[0]!['by']).toBeInstanceOf(Uint8Array);
      expect(rows[1]).toEqual(Object.fromEntries(Object.keys(rows[0]!).map((k) => [k, null])));
    });

    it('returns one-dimensional arrays as JS arrays of canonical values', async () => {
      const { rows } = await db.query(sql`
        SELECT ARRAY[1, 2, 3]::int4[] AS ints, ARRAY[5000000000]::int8[] AS bigs, ARRAY['a', 'b,c', '"q"']::text[] AS texts,
               ARRAY[true, false] AS bools, ARRAY[1.5, 2.25]::float8[] AS floats, ARRAY['1.10']::numeric[] AS nums,
               ARRAY['2024-01-02'::date] AS dates, ARRAY['2024-01-02 03:04:05+00'::timestamptz] AS stamps,
               '{}'::int4[] AS empty`);
      expect(rows).toEqual([
        {
          ints: [1, 2, 3],
          bigs: [5000000000],
          texts: ['a', 'b,c', '"q"'],
          bools: [true, false],
          floats: [1.5, 2.25],
          nums: ['1.10'],
          dates: ['2024-01-02'],
          stamps: [new Date('2024-01-02T03:04:05Z')],
          empty: [],
        },
      ]);
    });

    it('passes arrays as sql.json and unnests them in SQL', async () => {
      const { rows } = await db.query<{ x: string }>(
        sql`SELECT x FROM jsonb_array_elements_text(${sql.json(['b', 'a', "o'k"])}::jsonb) AS x ORDER BY x`,
      );
      expect(rows.map((r) => r.x)).toEqual(['a', 'b', "o'k"]);
    });

    it('round-trips vectors as text where pgvector exists', async (ctx) => {
      if (lacks('pgvector', subject.hasVector)) ctx.skip();
      await db.query(sql`CREATE EXTENSION IF NOT EXISTS vector`);
      const { rows } = await db.query(sql`SELECT ${'[1,2.5,3]'}::vector(3) AS v`);
      expect(rows).toEqual([{ v: '[1,2.5,3]' }]);
    });

    it('quotes odd identifiers with sql.ident', async () => {
      // Prepare
      const table = 'we"ird table.ñ';
      const column = 'Select';

      // Act
      await db.query(sql`CREATE TABLE ${sql.ident(table)} (${sql.ident(column)} int, "plain" text)`);
      await db.query(sql`INSERT INTO ${sql.ident(table)} (${sql.ident(column)}, plain) VALUES (${1}, ${'x'})`);
      const { rows } = await db.query(sql`SELECT ${sql.ident(column)}, plain FROM ${sql.ident('public', table)}`);

      // Assess
      expect(rows).toEqual([{ Select: 1, plain: 'x' }]);
    });

    it('reports rowCount for DML and SELECT, and returns RETURNING rows', async () => {
      // Prepare
      await db.query(sql`CREATE TABLE counted (id int PRIMARY KEY, n int)`);

      // Act
      const inserted = await db.query(sql`INSERT INTO counted SELECT g, g % 2 FROM generate_series(1, 5) g`);
      const updated = await db.query(sql`UPDATE counted SET n = n + 10 WHERE n = ${1}`);
      const none = await db.query(sql`UPDATE counted SET n = 0 WHERE id > ${100}`);
      const returned = await db.query<{ id: number }>(sql`DELETE FROM counted WHERE id <= ${2} RETURNING id`);
      const selected = await db.query(sql`SELECT * FROM counted`);

      // Assess
      expect(inserted.rowCount).toBe(5);
      expect(updated.rowCount).toBe(3);
      expect(none.rowCount).toBe(0);
      expect(returned.rows.map((r) => r.id).sort()).toEqual([1, 2]);
      expect(returned.rowCount).toBe(2);
      expect(selected.rowCount).toBe(3);
    });

    it('commits a transaction and returns what fn returned', async () => {
      // Prepare
      await db.query(sql`CREATE TABLE tx_commit (id int)`);

      // Act
      const result = await db.transaction(async (tx) => {
        await tx.query(sql`INSERT INTO tx_commit VALUES (${1})`);
        await tx.query(sql`INSERT INTO tx_commit VALUES (${2})`);
        const { rows } = await tx.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM tx_commit`);
        return rows[0]!.n;
      });

      // Assess
      expect(result).toBe(2);
      expect((await db.query(sql`SELECT id FROM tx_commit ORDER BY id`)).rows).toEqual([{ id: 1 }, { id: 2 }]);
    });

    it('rolls back when fn throws and rethrows the very same error', async () => {
      // Prepare
      await db.query(sql`CREATE TABLE tx_rollback (id int)`);
      const failure = new Error('caller gave up');

      // Act
      const outcome = db.transaction(async (tx) => {
        await tx.query(sql`INSERT INTO tx_rollback VALUES (${1})`);
        throw failure;
      });

      // Assess
      await expect(outcome).rejects.toBe(failure);
      expect((await db.query(sql`SELECT id FROM tx_rollback`)).rows).toEqual([]);
    });

    it('rolls back on an SQL error inside the transaction, keeping its SQLSTATE', async () => {
      // Prepare
      await db.query(sql`CREATE TABLE tx_unique (id int PRIMARY KEY)`);

      // Act
      const outcome = db.transaction(async (tx) => {
        await tx.query(sql`INSERT INTO tx_unique VALUES (${1})`);
        await tx.query(sql`INSERT INTO tx_unique VALUES (${1})`);
      });

      // Assess
      await expectDatabaseError(outcome, '23505', /duplicate key value violates unique constraint/);
      expect((await db.query(sql`SELECT id FROM tx_unique`)).rows).toEqual([]);
    });

    it('maps SQL errors to DatabaseError with SQLSTATE and PostgreSQL message', async () => {
      await expectDatabaseError(db.query(sql`SELECT * FROM no_such_table`), '42P01', /relation "no_such_table" does not exist/);
      await expectDatabaseError(db.query(sql`SELECT 1 / ${0}`), '22012', /division by zero/);
      await expectDatabaseError(db.query(sql`SELEC 1`), '42601', /syntax error/);
    });

    it('runs CREATE INDEX CONCURRENTLY through executeLong, outside any transaction', async () => {
      // Prepare
      await db.query(sql`CREATE TABLE cic (id int, payload text)`);
      await db.query(sql`INSERT INTO cic SELECT g, md5(g::text) FROM generate_series(1, 2000) g`);

      // Act
      const outcome = await db.executeLong(sql`CREATE INDEX CONCURRENTLY idx_cic_payload ON cic (payload)`);

      // Assess: done here, or still running where the transport has a call limit; either way it ends valid
      expect(['done', 'still_running']).toContain(outcome.state);
      await eventually(async () => {
        const { rows } = await db.query<{ valid: boolean }>(sql`
          SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass(${'idx_cic_payload'})`);
        return rows[0]?.valid === true;
      });
    });

    it('returns done with the result for a quick executeLong', async () => {
      // One small table: a whole-database ANALYZE can outlast a 1 s statement limit on a busy machine.
      await db.query(sql`CREATE TABLE quick_long (id int)`);
      const outcome = await db.executeLong(sql`ANALYZE quick_long`);
      expect(outcome).toEqual({ state: 'done', result: { rows: [], rowCount: 0 } });
    });
  });
}

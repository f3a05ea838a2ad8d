import { parse } from 'libpg-query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayIdent, sql } from '../../lambdas/core/db/sql.ts';
import { createIndex, dropIndex } from '../../lambdas/core/migrations/model.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/**
 * One identifier quoter (lambdas/core/db/sql.ts): `displayIdent` quotes exactly where the server's
 * own `quote_ident` does, over every key word the server knows (pg_get_keywords()), and the index
 * builders use it, so a reserved word as a schema, table or index name makes valid SQL.
 */
describe('identifier quoting against the server', () => {
  let db: TestDatabase;
  let keywords: Array<{ word: string; catcode: string; quoted: string }>;

  beforeAll(async () => {
    db = await createTestDatabase();
    ({ rows: keywords } = await db.client.query<{ word: string; catcode: string; quoted: string }>(
      sql`SELECT word, catcode, quote_ident(word) AS quoted FROM pg_get_keywords() ORDER BY word`,
    ));
  });
  afterAll(async () => db?.dispose());

  it('quotes every key word the way quote_ident does (and leaves unreserved ones bare)', () => {
    expect(keywords.length).toBeGreaterThan(400);
    const reserved = keywords.filter((k) => k.catcode !== 'U');
    expect(reserved.map((k) => k.word)).toEqual(expect.arrayContaining(['user', 'select', 'order', 'table', 'left', 'int']));
    const wrong = keywords.filter((k) => displayIdent(k.word) !== k.quoted).map((k) => `${k.word} (${k.catcode}): ours ${displayIdent(k.word)}, server ${k.quoted}`);
    expect(wrong).toEqual([]);
  });

  it('quotes other names the way quote_ident does: case, spaces, quotes, digits, $, non-ASCII', async () => {
    const names = ['Order', 'a b', 'x"y', '1abc', 'abc$', 'idx_ünï', '_ok', 'snake_case_9'];
    const { rows } = await db.client.query<{ name: string; quoted: string }>(
      sql`SELECT name, quote_ident(name) AS quoted FROM jsonb_array_elements_text(${sql.json(names)}) AS name`,
    );
    expect(rows).toHaveLength(names.length);
    for (const { name, quoted } of rows) expect(displayIdent(name), name).toBe(quoted);
  });

  it('builds CREATE INDEX and DROP INDEX that parse with any key word as schema, table and index name', async () => {
    const reserved = keywords.filter((k) => k.catcode !== 'U').map((k) => k.word);
    expect(reserved.length).toBeGreaterThan(50);
    for (const word of reserved) {
      const create = createIndex({ schema: word, table: word, name: word, columns: ['id'] });
      const tree = (await parse(create.sql)) as { stmts: Array<{ stmt: { IndexStmt: { idxname: string; relation: { schemaname: string; relname: string } } } }> };
      const stmt = tree.stmts[0]!.stmt.IndexStmt;
      expect({ idxname: stmt.idxname, schema: stmt.relation.schemaname, table: stmt.relation.relname }, create.sql).toEqual({ idxname: word, schema: word, table: word });
      const drop = dropIndex({ schema: word, name: word });
      await expect(parse(drop.sql), drop.sql).resolves.toBeDefined();
    }
  });

  it('runs createIndex({ schema: "user", … }) and its inverse on the server', async () => {
    await db.client.query(sql`CREATE SCHEMA "user"`);
    await db.client.query(sql`CREATE TABLE "user"."order" (id int, "Select" text)`);
    const create = createIndex({ schema: 'user', table: 'order', name: 'select', columns: ['"Select"'], concurrently: false });
    expect(create.sql).toBe('CREATE INDEX IF NOT EXISTS "select" ON "user"."order" ("Select")');
    await db.client.query(sql`${sql.raw(create.sql)}`);
    const present = await db.client.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'user' AND tablename = 'order' AND indexname = 'select'`);
    expect(present.rows[0]!.n).toBe(1);
    await db.client.query(sql`${sql.raw(dropIndex({ schema: 'user', name: 'select', concurrently: false }).sql)}`);
    const gone = await db.client.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'user' AND indexname = 'select'`);
    expect(gone.rows[0]!.n).toBe(0);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { createPgClient } from '../../../lambdas/core/db/pg.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { defineSqlClientContract } from './contract.ts';
import { lacks } from '../../support/prerequisites.ts';

defineSqlClientContract({
  dialect: 'pg',
  skip: lacks('postgresql') ? 'set TEST_DATABASE_URL to run it on PostgreSQL' : undefined,
  async open() {
    const db = await createTestDatabase();
    return { client: db.client, hasVector: db.hasVector, dispose: () => db.dispose() };
  },
});

describe.skipIf(lacks('postgresql'))('pg adapter beyond the contract', () => {
  let db: TestDatabase;
  let client: SqlClient;
  beforeAll(async () => {
    db = await createTestDatabase();
    client = createPgClient({ connectionString: db.url!, max: 1 }); // one connection: what it prepared stays visible
  });
  afterAll(async () => {
    await client?.close();
    await db?.dispose();
  });

  it('runs a query hinted repeatedly as one named prepared statement, reused with new values', async () => {
    // Prepare
    const query = (n: number) => sql`SELECT ${n}::int * 2 AS doubled`.repeatedly();

    // Act
    const results = [await client.query<{ doubled: number }>(query(1)), await client.query<{ doubled: number }>(query(21))];
    const prepared = await client.query<{ name: string }>(sql`SELECT name FROM pg_prepared_statements ORDER BY name`);

    // Assess
    expect(results.map((r) => r.rows[0]!.doubled)).toEqual([2, 42]);
    expect(prepared.rows).toEqual([{ name: expect.stringMatching(/^offpeak_[0-9a-f]{32}$/) }]);
  });

  it('prepares nothing for a query without the hint', async () => {
    // Prepare
    const count = async () => (await client.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_prepared_statements`)).rows[0]!.n;
    const before = await count();

    // Act
    await client.query(sql`SELECT ${1}::int AS one, ${'x'}::text AS other`);

    // Assess
    expect(await count()).toBe(before);
  });
});

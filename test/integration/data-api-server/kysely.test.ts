import { RDSData } from '@aws-sdk/client-rds-data';
import { Kysely, sql } from 'kysely';
import { DataApiDialect } from 'kysely-data-api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestDataApi, testResourceArn, testSecretArn, type TestDataApi } from '../../support/data-api.ts';

/** A third-party Data API client (kysely-data-api) against the local server. */
interface Schema {
  people: { id: number; name: string; born: Date | null; tags: string[] | null; profile: unknown };
}

let api: TestDataApi;
let client: RDSData;
let db: Kysely<Schema>;

beforeAll(async () => {
  api = await startTestDataApi();
  client = new RDSData({ endpoint: api.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' }, maxAttempts: 1 });
  db = new Kysely<Schema>({
    dialect: new DataApiDialect({ mode: 'postgres', driver: { client, database: api.database, resourceArn: testResourceArn, secretArn: testSecretArn } }),
  });
});
afterAll(async () => {
  await db?.destroy();
  client?.destroy();
  await api?.dispose();
});

it('creates, writes in a transaction and reads back through kysely-data-api', async () => {
  // Prepare
  await db.schema
    .createTable('people')
    .addColumn('id', 'int8', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('born', 'timestamp')
    .addColumn('tags', sql`text[]`)
    .addColumn('profile', 'jsonb')
    .execute();

  // Act
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('people').values({ id: 1, name: 'Ada', born: new Date('1815-12-10T00:00:00Z'), tags: null, profile: null }).execute();
    await trx.insertInto('people').values({ id: 2, name: 'Grace', born: null, tags: null, profile: null }).execute();
  });
  const updated = await db.updateTable('people').set({ name: 'Grace Hopper' }).where('id', '=', 2).executeTakeFirst();
  await sql`UPDATE people SET tags = ARRAY['math', 'engines'], profile = '{"lang": "en"}'::jsonb WHERE id = 1`.execute(db);
  const rows = await db.selectFrom('people').selectAll().orderBy('id').execute();

  // Assess
  expect(updated.numUpdatedRows).toBe(1n);
  expect(rows).toEqual([
    { id: 1, name: 'Ada', born: new Date('1815-12-10T00:00:00Z'), tags: ['math', 'engines'], profile: { lang: 'en' } },
    { id: 2, name: 'Grace Hopper', born: null, tags: null, profile: null },
  ]);
});

it('rolls back a failed kysely transaction', async () => {
  // Act
  const failure = db.transaction().execute(async (trx) => {
    await trx.insertInto('people').values({ id: 3, name: 'Lost', born: null, tags: null, profile: null }).execute();
    await trx.insertInto('people').values({ id: 1, name: 'Duplicate', born: null, tags: null, profile: null }).execute();
  });

  // Assess
  // The failed INSERT aborts the transaction on the service, so kysely's own rollback finds no transaction
  // (troubleshooting guide: "Transaction has been aborted due to an error from a previous call").
  await expect(failure).rejects.toThrow(/aborted due to an error from a previous call/);
  const lost = await db.selectFrom('people').select('id').where('id', '=', 3).execute();
  expect(lost).toEqual([]);
});

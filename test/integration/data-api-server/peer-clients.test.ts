import { RDSData } from '@aws-sdk/client-rds-data';
import { Kysely, sql as ksql } from 'kysely';
import { DataApiDialect } from 'kysely-data-api';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/aws-data-api/pg';
import { bigint, jsonb, numeric, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import dataApiClient from 'data-api-client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { lacks } from '../../support/prerequisites.ts';
import { until } from '../../support/wait.ts';
import { execute, rejection } from './helpers.ts';

/**
 * Other projects' Data API clients, from npm, against the local server (issue 13 item 4):
 * drizzle-orm's aws-data-api/pg driver, kysely with kysely-data-api, data-api-client 1.3.1
 * (aws-sdk v2). The assertions are what AWS does per its documentation: an error inside a
 * transaction ends it (so the client's own rollback finds no transaction), concurrent calls in
 * one transaction are refused, uuid[] comes back, macaddr is an unsupported result.
 */
let api: TestDataApi;
const uuidA = '6f1c2e8a-3b4d-4e5f-9a8b-7c6d5e4f3a2b';
const uuidB = '0b7f1e2d-9c8a-4b6d-8e5f-1a2b3c4d5e6f';
const born = new Date('2024-03-03T12:34:56.789Z');

beforeAll(async () => {
  api = await startTestDataApi();
  await execute(api, {
    sql: `CREATE TABLE people (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL UNIQUE, tags uuid[],
                               profile jsonb, born timestamp, score numeric(10,2), nums int8[])`,
  });
});
afterAll(() => api?.dispose());

const names = async () =>
  ((await execute(api, { sql: 'SELECT name FROM people ORDER BY name' })).records ?? []).map((r) => r[0]?.stringValue);

describe('drizzle-orm (aws-data-api/pg)', () => {
  const people = pgTable('people', {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    tags: uuid('tags').array(),
    profile: jsonb('profile'),
    born: timestamp('born'),
    score: numeric('score', { precision: 10, scale: 2 }),
    nums: bigint('nums', { mode: 'number' }).array(),
  });
  const db = () => drizzle(api.sdk, { database: api.database, resourceArn: api.resourceArn, secretArn: api.secretArn });

  it('inserts with RETURNING: jsonb, a hinted timestamp, numeric, uuid[] and int8[] round-trip', async () => {
    // Act
    const [row] = await db()
      .insert(people)
      .values({ name: 'drizzle-ada', tags: [uuidA, uuidB], profile: { a: [1, 2], b: null }, born, score: '12.50', nums: [1, 9007199254740991] })
      .returning();

    // Assess
    expect(row).toMatchObject({ name: 'drizzle-ada', tags: [uuidA, uuidB], profile: { a: [1, 2], b: null }, born, score: '12.50', nums: [1, 9007199254740991] });
    expect(row!.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a failing transaction: nothing of it stays, and the error names the aborted transaction', async () => {
    // Act
    const error = await rejection(
      db().transaction(async (tx) => {
        await tx.insert(people).values({ name: 'drizzle-lost' });
        await tx.execute(sql`SELECT 1 / 0`);
      }),
    );

    // Assess
    expect(error.name).toBe('TransactionNotFoundException');
    expect(error.message).toMatch(/aborted due to an error from a previous call/);
    expect(await names()).not.toContain('drizzle-lost');
  });

  // PostgreSQL only: PGlite runs each statement to completion on the JavaScript thread, so the calls never overlap.
  it.skipIf(lacks('postgresql'))('concurrent calls in one transaction → DatabaseErrorException "Transaction is still running a query"', async () => {
    // Prepare: the first call waits on an advisory lock this test holds, so it is provably still running
    const holder = new pg.Client({ connectionString: api.db.url! });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(7707)');

    // Act
    let error: Error;
    try {
      error = await rejection(
        db().transaction(async (tx) => {
          // drizzle sends a query when it is awaited or then-ed, so start it explicitly
          const first = tx.execute(sql`INSERT INTO people (name) SELECT 'drizzle-c1' FROM (SELECT pg_advisory_xact_lock(7707)) AS l`).then((r) => r);
          await until('the first call to wait for the lock', async () =>
            (await holder.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 7707 AND NOT granted")).rowCount === 1);
          await Promise.all([first, tx.insert(people).values({ name: 'drizzle-c2' })]);
        }),
      );
    } finally {
      await holder.query('SELECT pg_advisory_unlock(7707)');
      await holder.end();
    }

    // Assess: the second insert is refused while the first runs
    const refused = (error! as { cause?: Error }).cause ?? error!;
    expect(refused.name).toBe('DatabaseErrorException');
    expect(refused.message).toBe('Transaction is still running a query');
    expect(await names()).not.toContain('drizzle-c1');
    expect(await names()).not.toContain('drizzle-c2');
  });

  it('an unsupported type (macaddr) → UnsupportedResultException', async () => {
    // Act
    const error = await rejection(db().execute(sql`SELECT '08:00:2b:01:02:03'::macaddr AS m`));

    // Assess
    expect((error as { cause?: Error }).cause?.name).toBe('UnsupportedResultException');
  });
});

describe('kysely + kysely-data-api', () => {
  interface People {
    id: string;
    name: string;
    tags: string[] | null;
    profile: unknown;
    born: Date | null;
    score: string | null;
  }
  let client: RDSData;
  beforeAll(() => {
    client = new RDSData({ endpoint: api.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' }, maxAttempts: 1 });
  });
  afterAll(() => client?.destroy());
  const db = () =>
    new Kysely<{ people: People }>({
      dialect: new DataApiDialect({ mode: 'postgres', driver: { client, database: api.database, resourceArn: api.resourceArn, secretArn: api.secretArn } }),
    });

  it('inserts with RETURNING, hinted timestamp and uuid, reads uuid[] and numeric back', async () => {
    // Act
    const row = await db()
      .insertInto('people')
      // A stringValue is a varchar on AWS, so numeric needs a cast (kysely-data-api hints only Date and uuid-looking strings)
      .values({ name: 'kysely-bo', born, score: ksql`${'3.25'}::numeric`, profile: ksql`'{"k": true}'::jsonb`, tags: ksql`ARRAY[${uuidA}::uuid]` } as never)
      .returning(['name', 'born', 'score', 'tags', 'profile'])
      .executeTakeFirstOrThrow();

    // Assess
    expect(row).toEqual({ name: 'kysely-bo', born, score: '3.25', tags: [uuidA], profile: { k: true } });
  });

  it('a failing transaction: nothing of it stays', async () => {
    // Act
    const error = await rejection(
      db().transaction().execute(async (trx) => {
        await trx.insertInto('people').values({ name: 'kysely-lost' } as never).execute();
        await ksql`SELECT 1 / 0`.execute(trx);
      }),
    );

    // Assess: the duplicate aborts the transaction on the service; kysely-data-api then reports its own rollback state
    expect(error).toBeInstanceOf(Error);
    expect(await names()).not.toContain('kysely-lost');
  });
});

describe('data-api-client 1.3.1 (aws-sdk v2)', () => {
  const client = () =>
    dataApiClient({
      secretArn: api.secretArn,
      resourceArn: api.resourceArn,
      database: api.database,
      engine: 'pg',
      options: { endpoint: api.endpoint, region: 'us-east-1', accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret', maxRetries: 0 },
    });

  it('inserts with RETURNING: a Date sent with the TIMESTAMP hint, jsonb and numeric by cast', async () => {
    // Act
    const out = await client().query(
      'INSERT INTO people (name, profile, born, score) VALUES (:name, :profile::jsonb, :born, :score::numeric) RETURNING name, profile, born, score',
      { name: 'dac-di', profile: JSON.stringify({ x: 1 }), born, score: '1.5' },
    );

    // Assess
    expect(out.records).toEqual([{ name: 'dac-di', profile: '{"x": 1}', born, score: '1.50' }]);
  });

  it('reads uuid[] and int8[] as arrayValue', async () => {
    // Prepare
    await execute(api, { sql: `INSERT INTO people (name, tags, nums) VALUES ('dac-arrays', ARRAY['${uuidA}']::uuid[], ARRAY[1, 2]::int8[])` });

    // Act
    const out = await client().query("SELECT tags, nums FROM people WHERE name = 'dac-arrays'");

    // Assess
    expect(out.records).toEqual([{ tags: { stringValues: [uuidA] }, nums: { longValues: [1, 2] } }]);
  });

  it('a failing transaction: nothing of it stays, the error names the aborted transaction', async () => {
    // Act
    const error = await rejection(
      client()
        .transaction()
        .query('INSERT INTO people (name) VALUES (:n)', { n: 'dac-lost' })
        .query('SELECT 1 / 0')
        .commit(),
    );

    // Assess
    expect(error.message).toMatch(/aborted due to an error from a previous call/);
    expect(await names()).not.toContain('dac-lost');
  });

  it('an unsupported type (macaddr) → UnsupportedResultException', async () => {
    // Act
    const error = await rejection(client().query("SELECT '08:00:2b:01:02:03'::macaddr AS m"));

    // Assess
    expect(error.name).toBe('UnsupportedResultException');
    expect(error.message).toBe('The result contains the unsupported data type macaddr.');
  });
});

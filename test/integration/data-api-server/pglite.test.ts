import { BeginTransactionCommand, CommitTransactionCommand, DatabaseUnavailableException } from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { testDatabaseUrl } from '../../support/database.ts';
import { execute, rejection } from './helpers.ts';

/**
 * The embedded backend is one PGlite connection: an open Data API transaction holds it,
 * so a call from outside gets an immediate error naming the limitation instead of waiting
 * up to the 3-minute idle timeout (issue 13 item 10). PGlite only: PostgreSQL serves it.
 */
let api: TestDataApi;

beforeAll(async () => {
  api = await startTestDataApi();
  await execute(api, { sql: 'CREATE TABLE visible (id int8)' });
});
afterAll(() => api?.dispose());

const begin = async () =>
  (await api.sdk.send(new BeginTransactionCommand({ resourceArn: api.resourceArn, secretArn: api.secretArn, database: api.database }))).transactionId!;
const commit = (transactionId: string) => api.sdk.send(new CommitTransactionCommand({ resourceArn: api.resourceArn, secretArn: api.secretArn, transactionId }));

describe.skipIf(testDatabaseUrl)('PGlite backend (one connection)', () => {
  it('a call from outside an open transaction → immediate DatabaseUnavailableException naming the single connection [offpeak: PGlite limitation · high]', async () => {
    // Prepare
    const tx = await begin();
    await execute(api, { sql: 'INSERT INTO visible VALUES (1)', transactionId: tx });

    // Act
    const started = Date.now();
    const outside = await rejection(execute(api, { sql: 'SELECT count(*) FROM visible' }));
    const secondBegin = await rejection(begin());
    const waitedMs = Date.now() - started;
    await commit(tx);
    const after = await execute(api, { sql: 'SELECT count(*) FROM visible' });

    // Assess: far under the 180 s idle timeout a waiting call would have taken
    expect(outside).toBeInstanceOf(DatabaseUnavailableException);
    expect(outside.$metadata?.httpStatusCode).toBe(504);
    expect(outside.message).toMatch(/embedded PGlite database is a single connection, and an open Data API transaction holds it/);
    expect(outside.message).toMatch(/--database-url/);
    expect(secondBegin).toBeInstanceOf(DatabaseUnavailableException);
    expect(waitedMs).toBeLessThan(30_000);
    expect(after.records).toEqual([[{ longValue: 1 }]]);
  });

  it('concurrent calls outside transactions → all served in turn [offpeak: PGlite limitation · high]', async () => {
    // Act
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => execute(api, { sql: `SELECT ${i}::int8 AS n` })));

    // Assess
    expect(results.map((r) => r.records?.[0]?.[0]?.longValue)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

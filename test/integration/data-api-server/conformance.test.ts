import { BeginTransactionCommand, BatchExecuteStatementCommand, DatabaseErrorException, StatementTimeoutException, TransactionNotFoundException, UnsupportedResultException } from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { lacks } from '../../support/prerequisites.ts';
import { execute, post, rejection } from './helpers.ts';

/**
 * Conformance tests: each title reads `<behaviour> → <local result> [<source> · <confidence>]`,
 * and docs/data-api-conformance.md is generated from these titles (scripts/data-api/write-conformance.ts).
 * Sources: the API model shipped in @aws-sdk/client-rds-data, and the Aurora User Guide's Data API
 * pages (data-api.html, data-api-json.html, data-api.troubleshooting.html).
 */
let api: TestDataApi;
const statementTimeoutMs = 2000;

beforeAll(async () => {
  api = await startTestDataApi({ statementTimeoutMs });
});
afterAll(() => api?.dispose());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('typeHint formats', () => {
  it.each([
    ['TIMESTAMP', '2024-03-03T12:34:56Z'],
    ['TIMESTAMP', '2024-03-03 12:34:56+02'],
    ['TIMESTAMP', '2024-03-03'],
    ['DATE', 'March 3, 2024'],
    ['DATE', '2024-03-03 00:00:00'],
    ['TIME', '12:34:56+02:00'],
    ['TIME', '12:34'],
  ])('a TIMESTAMP, DATE or TIME typeHint value outside the documented format: ISO T…Z, an offset, March 3, 2024 (%s) → ValidationException naming the format [data-api.html: type hints · medium]', async (typeHint, value) => {
    // Act
    const error = await rejection(
      execute(api, { sql: 'SELECT :v AS v', parameters: [{ name: 'v', value: { stringValue: value }, typeHint: typeHint as 'DATE' }] }),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    expect(error.message).toContain(`a ${typeHint} typeHint takes a stringValue in the format`);
    expect(error.message).toContain(JSON.stringify(value));
  });

  it('the documented formats YYYY-MM-DD HH:MM:SS[.FFF], YYYY-MM-DD, HH:MM:SS[.FFF] → accepted [data-api.html: type hints · high]', async () => {
    // Act
    const out = await execute(api, {
      sql: 'SELECT :ts AS ts, :ts2 AS ts2, :d AS d, :t AS t',
      parameters: [
        { name: 'ts', value: { stringValue: '2024-03-03 12:34:56' }, typeHint: 'TIMESTAMP' },
        { name: 'ts2', value: { stringValue: '2024-03-03 12:34:56.789' }, typeHint: 'TIMESTAMP' },
        { name: 'd', value: { stringValue: '2024-03-03' }, typeHint: 'DATE' },
        { name: 't', value: { stringValue: '12:34:56.5' }, typeHint: 'TIME' },
      ],
    });

    // Assess
    expect(out.records?.[0]?.map((f) => f.stringValue)).toEqual(['2024-03-03 12:34:56', '2024-03-03 12:34:56.789', '2024-03-03', '12:34:56.5']);
  });
});

describe('types', () => {
  it.each([
    ["SELECT '08:00:2b:01:02:03'::macaddr AS v", 'macaddr'],
    ["SELECT daterange('2024-01-01', '2024-02-01') AS v", 'daterange'],
    ["SELECT tsrange('2024-01-01', '2024-02-01') AS v", 'tsrange'],
    ['SELECT int8range(1, 10) AS v', 'int8range'],
  ])('a macaddr, daterange, tsrange or int8range result (%s) → UnsupportedResultException [data-api.html: unsupported data types · medium]', async (sql, type) => {
    // Act
    const error = await rejection(execute(api, { sql }));

    // Assess
    expect(error).toBeInstanceOf(UnsupportedResultException);
    expect(error.message).toBe(`The result contains the unsupported data type ${type}.`);
  });

  it('a uuid[] result → arrayValue.stringValues [data-api.html: data type mapping · medium]', async () => {
    // Act
    const out = await execute(api, { sql: "SELECT ARRAY['6f1c2e8a-3b4d-4e5f-9a8b-7c6d5e4f3a2b', NULL]::uuid[] AS u" });

    // Assess
    expect(out.records).toEqual([[{ arrayValue: { stringValues: ['6f1c2e8a-3b4d-4e5f-9a8b-7c6d5e4f3a2b', null] } }]]);
  });

  it('a timetz result → stringValue with the offset dropped [issue 13 (observed on AWS) · medium]', async () => {
    // Act
    const out = await execute(api, { sql: "SELECT '12:34:56.5+02:30'::timetz AS t, ARRAY['01:02:03-05']::timetz[] AS ts" });

    // Assess
    expect(out.records).toEqual([[{ stringValue: '12:34:56.5' }, { arrayValue: { stringValues: ['01:02:03'] } }]]);
  });

  it('an int8 beyond 2^53 → every digit on the wire (longValue, longValues, formattedRecords) [API model: Field.longValue is a Long · high]', async () => {
    // Act
    const body = JSON.stringify({
      resourceArn: api.resourceArn, secretArn: api.secretArn, database: api.database,
      sql: "SELECT 9007199254740993::int8 AS big, ARRAY[-9223372036854775808]::int8[] AS bigs, 'x' AS s",
    });
    const response = await fetch(`${api.endpoint}/Execute`, { method: 'POST', body });
    const raw = await response.text();
    const json = await post(api, '/Execute', JSON.stringify({ ...JSON.parse(body), formatRecordsAs: 'JSON' }));

    // Assess
    expect(raw).toContain('{"longValue":9007199254740993}');
    expect(raw).toContain('{"arrayValue":{"longValues":[-9223372036854775808]}}');
    expect(json.body['formattedRecords']).toBe('[{"big":9007199254740993,"bigs":[-9223372036854775808],"s":"x"}]');
  });
});

describe('formatRecordsAs JSON', () => {
  it('two result columns with one label → UnsupportedResultException naming the label [data-api-json.html · medium]', async () => {
    // Act
    const error = await rejection(execute(api, { sql: 'SELECT 1 AS id, 2 AS id', formatRecordsAs: 'JSON' }));

    // Assess
    expect(error).toBeInstanceOf(UnsupportedResultException);
    expect(error.message).toMatch(/more than one column labelled "id"/);
  });

  it('formattedRecords over 1 MiB and under 10 MB → returned; over 10 MB → UnsupportedResultException [API reference: ExecuteStatement formattedRecords · high]', async () => {
    // Act
    const sql = (rows: number) => `SELECT repeat('x', 1000000) AS v FROM generate_series(1, ${rows})`;
    const twoMb = await execute(api, { sql: sql(2), formatRecordsAs: 'JSON' });
    const twoMbRecords = await rejection(execute(api, { sql: sql(2) }));
    const elevenMb = await rejection(execute(api, { sql: sql(11), formatRecordsAs: 'JSON' }));

    // Assess
    expect(twoMb.formattedRecords).toHaveLength(2 * (1_000_000 + 8) + 3);
    expect(twoMbRecords).toBeInstanceOf(UnsupportedResultException);
    expect(twoMbRecords.message).toBe('Database returned more than the allowed response size limit');
    expect(elevenMb).toBeInstanceOf(UnsupportedResultException);
    expect(elevenMb.message).toMatch(/larger than the 10000000-byte limit of formattedRecords/);
  });
});

describe('API model limits', () => {
  const arns = () => ({ resourceArn: api.resourceArn, secretArn: api.secretArn, database: api.database });

  it.each([
    ['sql longer than 65536 characters', { sql: `SELECT 1 AS x${' '.repeat(65_530)}` }, 'sql', 'Member must have length less than or equal to 65536'],
    ['a resourceArn shorter than 11 characters', { resourceArn: 'arn:short', sql: 'SELECT 1' }, 'resourceArn', 'Member must have length greater than or equal to 11'],
    ['a secretArn longer than 100 characters', { secretArn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${'x'.repeat(60)}`, sql: 'SELECT 1' }, 'secretArn', 'Member must have length less than or equal to 100'],
    ['a database name longer than 64 characters', { database: 'd'.repeat(65), sql: 'SELECT 1' }, 'database', 'Member must have length less than or equal to 64'],
    ['a transactionId longer than 192 characters', { transactionId: 't'.repeat(193), sql: 'SELECT 1' }, 'transactionId', 'Member must have length less than or equal to 192'],
  ])('sql over 65536 characters, an ARN under 11 or over 100, a database name over 64, a transactionId over 192 (%s) → ValidationException in the protocol\'s wording [API model: length constraints · high]', async (_what, input, member, constraint) => {
    // Act
    const error = await rejection(post(api, '/Execute', JSON.stringify({ ...arns(), ...input })).then((r) => {
      throw Object.assign(new Error(String(r.body['message'])), { name: r.errorType, status: r.status });
    }));

    // Assess
    expect(error).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(error.message).toContain(`at '${member}' failed to satisfy constraint: ${constraint}`);
  });

  it('sql of exactly 65536 characters → runs [API model: SqlStatement length 0–65536 · high]', async () => {
    // Act
    const out = await execute(api, { sql: `SELECT 1 AS x${' '.repeat(65_536 - 'SELECT 1 AS x'.length)}` });

    // Assess
    expect(out.records).toEqual([[{ longValue: 1 }]]);
  });

  it('the schema parameter → ValidationException [troubleshooting: Schema parameter isn\'t supported · medium]', async () => {
    // Act
    const error = await rejection(execute(api, { sql: 'SELECT 1', schema: 'public' }));

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(/schema parameter isn't supported/);
  });

  it.skipIf(lacks('postgresql'))('a database that does not exist → DatabaseErrorException with PostgreSQL\'s FATAL 3D000 [API model: DatabaseNotFoundException is "no DB instance" · medium]', async () => {
    // Act
    const error = await rejection(api.sdk.send(new BeginTransactionCommand({ ...arns(), database: 'no_such_database' })));

    // Assess
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toBe('FATAL: database "no_such_database" does not exist; SQLState: 3D000');
  });
});

describe('BatchExecuteStatement timeout', () => {
  it('the statement timeout bounds the whole batch, not each parameter set → StatementTimeoutException [API reference: BatchExecuteStatement · medium]', async () => {
    // Prepare: each set alone sleeps well under the 2 s timeout, three together well over it
    await execute(api, { sql: 'CREATE TABLE batch_timeout (id int8)' });
    const sleepSql = 'INSERT INTO batch_timeout SELECT :id FROM pg_sleep(0.8)';
    const batch = (ids: number[]) =>
      api.sdk.send(
        new BatchExecuteStatementCommand({
          resourceArn: api.resourceArn, secretArn: api.secretArn, database: api.database, sql: sleepSql,
          parameterSets: ids.map((id) => [{ name: 'id', value: { longValue: id } }]),
        }),
      );

    // Act
    await batch([1]);
    const error = await rejection(batch([2, 3, 4]));

    // Assess
    expect(error).toBeInstanceOf(StatementTimeoutException);
    const rows = await execute(api, { sql: 'SELECT id FROM batch_timeout ORDER BY id' });
    // All or nothing: PostgreSQL cancels the batch at the deadline, PGlite (which cannot cancel) reports it afterwards; both roll it back.
    expect(rows.records?.map((r) => r[0]?.longValue)).toEqual([1]);
  });
});

describe('transaction lifetime', () => {
  it('a transaction past the maximum lifetime (24 h; shrunk here) → TransactionNotFoundException "Transaction may be expired" even while in use [data-api.html: transactions time out after 24 hours · high]', async () => {
    // Prepare
    const lifetimeMs = 1500;
    const short = await startTestDataApi({ transactionMaxLifetimeMs: lifetimeMs });
    try {
      await execute(short, { sql: 'CREATE TABLE lifetime (id int8)' });
      const begun = await short.sdk.send(new BeginTransactionCommand({ resourceArn: short.resourceArn, secretArn: short.secretArn, database: short.database }));
      const tx = begun.transactionId!;
      const started = Date.now();

      // Act: keep the transaction busy with calls; it must end anyway
      let error: Error | undefined;
      for (let i = 0; Date.now() - started < 60_000 && !error; i++) {
        try {
          await execute(short, { sql: 'INSERT INTO lifetime VALUES (:i)', parameters: [{ name: 'i', value: { longValue: i } }], transactionId: tx });
        } catch (caught) {
          error = caught as Error;
        }
        await sleep(100);
      }

      // Assess
      expect(Date.now() - started).toBeGreaterThanOrEqual(lifetimeMs);
      expect(error).toBeInstanceOf(TransactionNotFoundException);
      expect(error!.message).toBe(`Transaction ${tx} is not found: Transaction may be expired`);
      expect((await execute(short, { sql: 'SELECT count(*) FROM lifetime' })).records).toEqual([[{ longValue: 0 }]]);
    } finally {
      await short.dispose();
    }
  });
});

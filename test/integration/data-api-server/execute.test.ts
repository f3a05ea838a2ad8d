import {
  BatchExecuteStatementCommand,
  DatabaseErrorException,
  UnsupportedResultException,
} from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { execute, post, rejection } from './helpers.ts';

/** Conformance of ExecuteStatement / BatchExecuteStatement to the service, through the plain SDK client. */
let api: TestDataApi;

beforeAll(async () => {
  api = await startTestDataApi({ maxResponseBytes: 64 * 1024 });
});
afterAll(() => api?.dispose());

describe('autocommit', () => {
  it('runs CREATE INDEX CONCURRENTLY outside a transaction, leaving a valid index', async () => {
    // Prepare
    await execute(api, { sql: 'CREATE TABLE cic_t (id int8 PRIMARY KEY, v text)' });
    await execute(api, { sql: "INSERT INTO cic_t SELECT g, 'v' || g FROM generate_series(1, 100) g" });

    // Act
    const out = await execute(api, { sql: 'CREATE INDEX CONCURRENTLY idx_cic_t_v ON cic_t (v)' });

    // Assess
    expect(out.numberOfRecordsUpdated).toBe(0);
    const valid = await execute(api, {
      sql: "SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_cic_t_v'::regclass",
    });
    expect(valid.records).toEqual([[{ booleanValue: true }]]);
  });

  it('keeps no session state between calls', async () => {
    // Act
    await execute(api, { sql: "SET application_name = 'leaky'" });
    const out = await execute(api, { sql: 'SHOW application_name' });

    // Assess
    expect(out.records?.[0]?.[0]?.stringValue).not.toBe('leaky');
  });
});

describe('statements', () => {
  it('more than one statement → ValidationException "Multistatements aren\'t supported." [troubleshooting: Multi-statements aren\'t supported · high]', async () => {
    // Act
    const error = await rejection(execute(api, { sql: 'SELECT 1; SELECT 2' }));

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe("Multistatements aren't supported.");
    expect(error.$metadata?.httpStatusCode).toBe(400);
  });

  it.each([
    ["SELECT 'a;b' AS x", 'a string'],
    ['SELECT 1 AS x -- trailing; comment', 'a line comment'],
    ['SELECT /* a; b */ 1 AS x', 'a block comment'],
    ['SELECT $$ a; b $$ AS x', 'a dollar-quoted body'],
    ['SELECT 1 AS x;', 'a trailing semicolon'],
  ])('counts %s as one statement (; inside %s)', async (sql) => {
    // Act
    const out = await execute(api, { sql });

    // Assess
    expect(out.records).toHaveLength(1);
  });

  it('runs a DO block whose body has semicolons', async () => {
    // Act
    const out = await execute(api, { sql: 'DO $body$ BEGIN PERFORM 1; PERFORM 2; END $body$' });

    // Assess
    expect(out.numberOfRecordsUpdated).toBe(0);
  });
});

describe('parameters', () => {
  it('round-trips every typeHint to its PostgreSQL type', async () => {
    // Act
    const out = await execute(api, {
      sql: `SELECT :d AS d, pg_typeof(:d)::text AS dt, :t AS t, pg_typeof(:t)::text AS tt,
                   :ts AS ts, pg_typeof(:ts)::text AS tst, :n AS n, pg_typeof(:n)::text AS nt,
                   :j::jsonb AS j, pg_typeof(:j)::text AS jt, :u AS u, pg_typeof(:u)::text AS ut`,
      parameters: [
        { name: 'd', value: { stringValue: '2024-02-29' }, typeHint: 'DATE' },
        { name: 't', value: { stringValue: '13:45:30.123' }, typeHint: 'TIME' },
        { name: 'ts', value: { stringValue: '2024-02-29 13:45:30.123' }, typeHint: 'TIMESTAMP' },
        { name: 'n', value: { stringValue: '12345678901234567890.123456789' }, typeHint: 'DECIMAL' },
        { name: 'j', value: { stringValue: '{"b": [1, 2], "a": null}' }, typeHint: 'JSON' },
        { name: 'u', value: { stringValue: '6f1c2e8a-3b4d-4e5f-9a8b-7c6d5e4f3a2b' }, typeHint: 'UUID' },
      ],
    });

    // Assess
    expect(out.records?.[0]?.map((f) => f.stringValue)).toEqual([
      '2024-02-29', 'date',
      '13:45:30.123', 'time without time zone',
      '2024-02-29 13:45:30.123', 'timestamp without time zone',
      '12345678901234567890.123456789', 'numeric',
      '{"a": null, "b": [1, 2]}', 'json',
      '6f1c2e8a-3b4d-4e5f-9a8b-7c6d5e4f3a2b', 'uuid',
    ]);
  });

  it('round-trips each Field kind through a table', async () => {
    // Prepare
    await execute(api, { sql: 'CREATE TABLE kinds (b bool, l int8, d float8, s text, bl bytea, n int4)' });
    const blob = new Uint8Array([0, 1, 2, 253, 254, 255]);

    // Act
    const inserted = await execute(api, {
      sql: 'INSERT INTO kinds VALUES (:b, :l, :d, :s, :bl, :n)',
      parameters: [
        { name: 'b', value: { booleanValue: true } },
        { name: 'l', value: { longValue: Number.MAX_SAFE_INTEGER } },
        { name: 'd', value: { doubleValue: 1.5 } },
        { name: 's', value: { stringValue: "it's ; :not_a_param" } },
        { name: 'bl', value: { blobValue: blob } },
        { name: 'n', value: { isNull: true } },
      ],
    });
    const out = await execute(api, { sql: 'SELECT b, l, d, s, bl, n FROM kinds' });

    // Assess
    expect(inserted.numberOfRecordsUpdated).toBe(1);
    const [b, l, d, s, bl, n] = out.records![0]!;
    expect(b).toEqual({ booleanValue: true });
    expect(l).toEqual({ longValue: Number.MAX_SAFE_INTEGER });
    expect(d).toEqual({ doubleValue: 1.5 });
    expect(s).toEqual({ stringValue: "it's ; :not_a_param" });
    expect(bl?.blobValue).toEqual(blob);
    expect(n).toEqual({ isNull: true });
  });

  it('types a stringValue without typeHint as varchar, as the service does', async () => {
    // Prepare
    await execute(api, { sql: 'CREATE TABLE hinted (id uuid)' });

    // Act
    const error = await rejection(
      execute(api, { sql: 'INSERT INTO hinted VALUES (:id)', parameters: [{ name: 'id', value: { stringValue: '6f1c2e8a-3b4d-4e5f-9a8b-7c6d5e4f3a2b' } }] }),
    );

    // Assess
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toMatch(/column "id" is of type uuid but expression is of type character varying/);
    expect(error.message).toMatch(/SQLState: 42804$/);
  });

  it('leaves :name alone inside strings, quoted identifiers, comments and :: casts, and reuses a repeated name', async () => {
    // Act
    const out = await execute(api, {
      sql: `SELECT ':a' AS s, E'\\':a' AS e, $q$:a$q$ AS dq, 1 AS ":a", /* :a */ :a::text AS p, :a AS again -- :a`,
      parameters: [{ name: 'a', value: { stringValue: 'v' } }],
    });

    // Assess
    expect(out.records?.[0]?.map((f) => f.stringValue ?? f.longValue)).toEqual([':a', "':a", ':a', 1, 'v', 'v']);
  });

  it('an array parameter → ValidationException "Array parameters are not supported." [API model: SqlParameter.value · high]', async () => {
    // Act
    const error = await rejection(
      execute(api, { sql: 'SELECT :a AS a', parameters: [{ name: 'a', value: { arrayValue: { longValues: [1, 2] } } }] }),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    expect(error.message).toBe('Array parameters are not supported.');
  });

  it('names a placeholder that has no parameter', async () => {
    // Act
    const error = await rejection(execute(api, { sql: 'SELECT :missing AS a' }));

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(/:missing/);
  });
});

describe('results', () => {
  it('maps PostgreSQL types to Field members', async () => {
    // Act
    const out = await execute(api, {
      sql: `SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740991::int8 AS i8, 1.25::float4 AS f4, 2.5::float8 AS f8,
                   12345678901234567890.5::numeric AS n, true AS b, '\\xdeadbeef'::bytea AS by,
                   '{"a":1}'::json AS j, '{"a": 1}'::jsonb AS jb, '2024-01-02 03:04:05.123456'::timestamp AS ts,
                   '2024-01-02'::date AS d, '03:04:05'::time AS t, '6f1c2e8a-3b4d-4e5f-9a8b-7c6d5e4f3a2b'::uuid AS u,
                   'txt'::text AS tx, '10.0.0.1'::inet AS ip`,
    });

    // Assess
    expect(out.records?.[0]).toEqual([
      { longValue: 1 }, { longValue: 2 }, { longValue: 9007199254740991 }, { doubleValue: 1.25 }, { doubleValue: 2.5 },
      { stringValue: '12345678901234567890.5' }, { booleanValue: true }, { blobValue: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) },
      { stringValue: '{"a":1}' }, { stringValue: '{"a": 1}' }, { stringValue: '2024-01-02 03:04:05.123456' },
      { stringValue: '2024-01-02' }, { stringValue: '03:04:05' }, { stringValue: '6f1c2e8a-3b4d-4e5f-9a8b-7c6d5e4f3a2b' },
      { stringValue: 'txt' }, { stringValue: '10.0.0.1' },
    ]);
  });

  it('returns enum values as strings', async () => {
    // Prepare
    await execute(api, { sql: "CREATE TYPE mood AS ENUM ('ok', 'great')" });

    // Act
    const out = await execute(api, { sql: "SELECT 'great'::mood AS m, ARRAY['ok','great']::mood[] AS ms" });

    // Assess
    expect(out.records?.[0]).toEqual([{ stringValue: 'great' }, { arrayValue: { stringValues: ['ok', 'great'] } }]);
  });

  it('returns timestamptz in UTC whatever the session time zone', async () => {
    // Act: SET LOCAL only lasts for the implicit transaction of this one statement, so use a function-scoped setting
    const out = await execute(api, {
      sql: "SELECT (SELECT '2024-01-02 08:34:05.5+05:30'::timestamptz) AS t, set_config('TimeZone', 'Asia/Kolkata', true) AS tz, now() IS NOT NULL AS ok",
    });
    const shifted = await execute(api, {
      sql: "SELECT set_config('TimeZone', 'America/New_York', false) AS tz, '2024-07-01 12:00:00+00'::timestamptz::text AS local",
    });
    const inUtc = await execute(api, { sql: "SELECT '2024-07-01 12:00:00-04'::timestamptz AS t" });

    // Assess
    expect(out.records?.[0]?.[0]).toEqual({ stringValue: '2024-01-02 03:04:05.5' });
    expect(shifted.records?.[0]?.[1]).toEqual({ stringValue: '2024-07-01 08:00:00-04' });
    expect(inUtc.records?.[0]?.[0]).toEqual({ stringValue: '2024-07-01 16:00:00' });
  });

  it('returns arrays as arrayValue, NULL elements included', async () => {
    // Act
    const out = await execute(api, {
      sql: `SELECT ARRAY[1, NULL, 3]::int8[] AS l, ARRAY['a b', 'c"d', NULL, 'e,f']::text[] AS s,
                   ARRAY[1.5, 2.5]::float8[] AS d, ARRAY[true, false]::bool[] AS b, ARRAY[]::int4[] AS empty,
                   ARRAY[1.10, 2]::numeric[] AS n, NULL::int4[] AS none`,
    });

    // Assess
    expect(out.records?.[0]).toEqual([
      { arrayValue: { longValues: [1, null, 3] } },
      { arrayValue: { stringValues: ['a b', 'c"d', null, 'e,f'] } },
      { arrayValue: { doubleValues: [1.5, 2.5] } },
      { arrayValue: { booleanValues: [true, false] } },
      { arrayValue: { longValues: [] } },
      { arrayValue: { stringValues: ['1.10', '2'] } },
      { isNull: true },
    ]);
  });

  it.each([
    ["SELECT '12.50'::money AS m", 'money'],
    ["SELECT point(1, 2) AS p", 'point'],
    ['SELECT ARRAY[[1, 2], [3, 4]] AS m', 'multidimensional'],
  ])('refuses an unsupported result: %s', async (sql, what) => {
    // Act
    const error = await rejection(execute(api, { sql }));

    // Assess
    expect(error).toBeInstanceOf(UnsupportedResultException);
    expect(error.message).toContain(what);
  });

  it("formats records as JSON with formatRecordsAs: 'JSON'", async () => {
    // Act
    const out = await execute(api, {
      sql: "SELECT 1 AS id, 'a' AS name, NULL::text AS nothing, 1.5::numeric AS n, ARRAY[1,2] AS arr, true AS ok",
      formatRecordsAs: 'JSON',
      includeResultMetadata: true,
    });

    // Assess
    expect(JSON.parse(out.formattedRecords!)).toEqual([{ id: 1, name: 'a', nothing: null, n: '1.5', arr: [1, 2], ok: true }]);
    expect(out.records).toBeUndefined();
    expect(out.columnMetadata).toBeUndefined();
  });

  it('describes columns with includeResultMetadata', async () => {
    // Prepare
    await execute(api, { sql: 'CREATE TABLE meta_t (id serial PRIMARY KEY, price numeric(10, 2), tags text[], note varchar(20))' });

    // Act
    const out = await execute(api, { sql: 'SELECT id, price, tags, note, now() AS at FROM meta_t', includeResultMetadata: true });

    // Assess
    const [id, price, tags, note, at] = out.columnMetadata!;
    expect(id).toMatchObject({ name: 'id', label: 'id', type: 4, isSigned: true, precision: 10 });
    expect(price).toMatchObject({ name: 'price', typeName: 'numeric', type: 2, isSigned: true });
    expect(tags).toMatchObject({ name: 'tags', typeName: '_text', type: 2003, arrayBaseColumnType: 12 });
    expect(note).toMatchObject({ name: 'note', typeName: 'varchar', type: 12, isCaseSensitive: true });
    expect(at).toMatchObject({ name: 'at', typeName: 'timestamptz', type: 93 });
    if (api.db.kind === 'pg') {
      // Only pg reports a column's source table and type modifier; PGlite's results carry neither.
      expect(id).toMatchObject({ typeName: 'serial', isAutoIncrement: true, nullable: 0, tableName: 'meta_t', schemaName: 'public' });
      expect(price).toMatchObject({ nullable: 1, tableName: 'meta_t', precision: 10, scale: 2 });
      expect(note).toMatchObject({ precision: 20 });
    }
  });

  it('counts rows for INSERT, UPDATE and DELETE, and 0 for SELECT', async () => {
    // Prepare
    await execute(api, { sql: 'CREATE TABLE counted (id int4)' });

    // Act
    const inserted = await execute(api, { sql: 'INSERT INTO counted SELECT generate_series(1, 3)' });
    const updated = await execute(api, { sql: 'UPDATE counted SET id = id + 10 WHERE id < 3' });
    const selected = await execute(api, { sql: 'SELECT * FROM counted' });
    const deleted = await execute(api, { sql: 'DELETE FROM counted RETURNING id' });

    // Assess
    expect([inserted.numberOfRecordsUpdated, updated.numberOfRecordsUpdated, selected.numberOfRecordsUpdated]).toEqual([3, 2, 0]);
    expect(deleted.numberOfRecordsUpdated).toBe(3);
    expect(deleted.records).toHaveLength(3);
    expect(deleted.generatedFields).toEqual([]);
  });

  it('a reply over the response size limit (1 MiB) → UnsupportedResultException "Database returned more than the allowed response size limit", server keeps serving [troubleshooting: Database response exceeded size limit · high]', async () => {
    // Act
    const error = await rejection(execute(api, { sql: "SELECT repeat('x', 70000) AS big" }));
    const small = await execute(api, { sql: "SELECT repeat('x', 10) AS small" });

    // Assess
    expect(error).toBeInstanceOf(UnsupportedResultException);
    expect(error.message).toBe('Database returned more than the allowed response size limit');
    expect(small.records?.[0]?.[0]).toEqual({ stringValue: 'xxxxxxxxxx' });
  });
});

describe('errors', () => {
  it("returns PostgreSQL's message and SQLSTATE as DatabaseErrorException, positions in the caller's SQL", async () => {
    // Act
    const error = await rejection(execute(api, { sql: 'SELECT :v AS v, * FROM nope', parameters: [{ name: 'v', value: { longValue: 1 } }] }));

    // Assess
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toBe('ERROR: relation "nope" does not exist\n  Position: 24; SQLState: 42P01');
    expect(error.$metadata?.httpStatusCode).toBe(400);
  });

  it('request-shape errors → SerializationException / ValidationException, never the deprecated BadRequestException [API model: BadRequestException deprecated · medium]', async () => {
    // Act
    const notJson = await post(api, '/Execute', '{"sql": ');
    const arns = { resourceArn: api.resourceArn, secretArn: api.secretArn };
    const noSql = await post(api, '/Execute', JSON.stringify(arns));
    const twoKinds = await post(api, '/Execute', JSON.stringify({
      ...arns, sql: 'SELECT :x AS x', parameters: [{ name: 'x', value: { longValue: 1, stringValue: '1' } }],
    }));
    const badHint = await post(api, '/Execute', JSON.stringify({
      ...arns, sql: 'SELECT :x AS x', parameters: [{ name: 'x', value: { stringValue: '1' }, typeHint: 'MONEY' }],
    }));
    const wrongType = await post(api, '/Execute', JSON.stringify({ ...arns, sql: 'SELECT 1', includeResultMetadata: 'yes' }));
    const badFormat = await post(api, '/Execute', JSON.stringify({ ...arns, sql: 'SELECT 1', formatRecordsAs: 'CSV' }));
    const unknownRoute = await post(api, '/ExecuteSql', '{}');

    // Assess
    expect(notJson).toMatchObject({ status: 400, errorType: 'SerializationException' });
    expect(notJson.body['message']).toMatch(/not valid JSON/);
    expect(noSql).toMatchObject({
      status: 400,
      errorType: 'ValidationException',
      body: { message: "1 validation error detected: Value null at 'sql' failed to satisfy constraint: Member must not be null" },
    });
    expect(twoKinds).toMatchObject({ status: 400, errorType: 'SerializationException' });
    expect(twoKinds.body['message']).toMatch(/exactly one of/);
    expect(badHint).toMatchObject({ status: 400, errorType: 'ValidationException' });
    expect(badHint.body['message']).toMatch(/'MONEY' at 'parameters.member.typeHint' failed to satisfy constraint: Member must satisfy enum value set: \[DATE, TIME, TIMESTAMP, DECIMAL, JSON, UUID\]/);
    expect(wrongType).toMatchObject({ status: 400, errorType: 'SerializationException', body: { message: 'includeResultMetadata must be a boolean, got string' } });
    expect(badFormat).toMatchObject({ status: 400, errorType: 'ValidationException' });
    expect(badFormat.body['message']).toMatch(/at 'formatRecordsAs' failed to satisfy constraint: Member must satisfy enum value set: \[NONE, JSON\]/);
    expect(unknownRoute).toMatchObject({ status: 404, errorType: 'UnknownOperationException' });
    expect((await execute(api, { sql: 'SELECT 1 AS alive' })).records).toEqual([[{ longValue: 1 }]]);
  });
});

describe('BatchExecuteStatement', () => {
  it('runs the statement once per parameter set', async () => {
    // Prepare
    await execute(api, { sql: 'CREATE TABLE batch_t (id int8 PRIMARY KEY, name text)' });

    // Act
    const out = await api.sdk.send(
      new BatchExecuteStatementCommand({
        resourceArn: api.resourceArn,
        secretArn: api.secretArn,
        database: api.database,
        sql: 'INSERT INTO batch_t (id, name) VALUES (:id, :name)',
        parameterSets: [1, 2, 3].map((id) => [
          { name: 'id', value: { longValue: id } },
          { name: 'name', value: { stringValue: `n${id}` } },
        ]),
      }),
    );
    const rows = await execute(api, { sql: 'SELECT id, name FROM batch_t ORDER BY id' });

    // Assess
    expect(out.updateResults).toEqual([{ generatedFields: [] }, { generatedFields: [] }, { generatedFields: [] }]);
    expect(rows.records?.map((r) => r[1]?.stringValue)).toEqual(['n1', 'n2', 'n3']);
  });

  it('applies none of a failing batch outside a transaction', async () => {
    // Act
    const error = await rejection(
      api.sdk.send(
        new BatchExecuteStatementCommand({
          resourceArn: api.resourceArn,
          secretArn: api.secretArn,
          database: api.database,
          sql: 'INSERT INTO batch_t (id, name) VALUES (:id, :name)',
          parameterSets: [10, 3].map((id) => [
            { name: 'id', value: { longValue: id } },
            { name: 'name', value: { stringValue: 'dup' } },
          ]),
        }),
      ),
    );
    const rows = await execute(api, { sql: 'SELECT count(*) FROM batch_t WHERE id = 10' });

    // Assess
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toMatch(/SQLState: 23505/);
    expect(rows.records?.[0]?.[0]).toEqual({ longValue: 0 });
  });
});

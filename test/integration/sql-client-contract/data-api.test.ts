import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { defineSqlClientContract, eventually } from './contract.ts';

// The statement timeout is shrunk from the service's 45 s to 1 s so still-running is quick to reach.
const statementTimeoutMs = 1_000;

defineSqlClientContract({
  dialect: 'data-api',
  async open() {
    const api = await startTestDataApi({ statementTimeoutMs });
    return { client: api.adapter(), hasVector: api.db.hasVector, dispose: () => api.dispose() };
  },
});

describe('Data API adapter beyond the contract', () => {
  let api: TestDataApi;
  beforeAll(async () => {
    api = await startTestDataApi({ statementTimeoutMs });
  });
  afterAll(async () => {
    await api?.dispose();
  });

  it('returns still_running when a long statement outlives the call, and the statement completes on the server', async () => {
    // Prepare
    const db = api.adapter();

    // Act
    const outcome = await db.executeLong(sql`CREATE TABLE slow_done AS SELECT 1 AS x FROM pg_sleep(2)`);

    // Assess
    expect(outcome).toEqual({ state: 'still_running' });
    await eventually(async () => {
      const { rows } = await db.query<{ t: string | null }>(sql`SELECT to_regclass(${'slow_done'})::text AS t`);
      return rows[0]?.t === 'slow_done';
    });
    expect((await db.query(sql`SELECT x FROM slow_done`)).rows).toEqual([{ x: 1 }]);
  });

  it('reads formattedRecords when asked for JSON records', async () => {
    // Prepare
    const db = api.adapter({ formatRecordsAs: 'JSON' });

    // Act
    const { rows, rowCount } = await db.query(
      sql`SELECT 1 AS id, ${'a'}::text AS name, ARRAY[1, 2] AS list, NULL::text AS nothing, true AS flag`,
    );

    // Assess
    expect(rows).toEqual([{ id: 1, name: 'a', list: [1, 2], nothing: null, flag: true }]);
    expect(rowCount).toBe(1);
  });

  it('sends a query hinted withJsonRows as formatRecordsAs JSON, with the same rows as typed fields', async () => {
    // Prepare: count what the SDK client sends.
    const db = api.adapter();
    const formats: unknown[] = [];
    api.sdk.middlewareStack.add(
      (next) => async (args) => {
        formats.push((args.input as { formatRecordsAs?: string }).formatRecordsAs);
        return next(args);
      },
      { step: 'initialize', name: 'recordFormats' },
    );
    const query = sql`SELECT g::bigint AS k, ${'é'}::text || g AS name, g % 2 = 0 AS even, NULL::text AS nothing FROM generate_series(1, 3) g ORDER BY g`;

    try {
      // Act
      const typed = await db.query(query);
      const json = await db.query(query.withJsonRows());

      // Assess
      expect(formats).toEqual([undefined, 'JSON']);
      expect(json.rows).toEqual(typed.rows);
      expect(json.rows[2]).toEqual({ k: 3, name: 'é3', even: false, nothing: null });
    } finally {
      api.sdk.middlewareStack.remove('recordFormats');
    }
  });
});

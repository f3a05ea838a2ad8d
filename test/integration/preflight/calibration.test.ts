import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { createIndex, defineMigration, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { buildRate, calibratedRates, DEFAULT_BUILD_RATES, recordBuildSample } from '../../../lambdas/core/preflight/calibration.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { harness, uniqueName } from '../migrations/helpers.ts';

/** The calibration store pre-flight reads: samples recorded by hand (a rehearsal) and by a run's own builds. PGlite and pg. */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.dispose();
});

const samples = async (schema: string) =>
  (
    await db.client.query<{ access_method: string; bytes: number; seconds: number; source: string; index_name: string; table_name: string; run_id: string | null }>(
      sql`SELECT access_method, bytes, seconds, source, index_name, table_name, run_id FROM ${sql.ident(schema, 'index_build_samples')} ORDER BY id`,
    )
  ).rows;

describe('the calibration store', () => {
  it('answers the conservative default, uncalibrated, before any sample, without making the ledger', async () => {
    // Prepare
    const schema = uniqueName('offpeak_cal');

    // Act
    const rate = await buildRate(db.client, schema, 'btree');
    const unknownMethod = await buildRate(db.client, schema, 'bloom');

    // Assess
    expect(rate).toEqual({ accessMethod: 'btree', bytesPerSecond: DEFAULT_BUILD_RATES['btree'], calibrated: false, samples: 0 });
    expect(unknownMethod.calibrated).toBe(false);
    expect(unknownMethod.bytesPerSecond).toBeGreaterThan(0);
    const { rows } = await db.client.query<{ found: boolean }>(sql`SELECT to_regnamespace(${schema}) IS NOT NULL AS found`);
    expect(rows[0]!.found).toBe(false);
  });

  it('takes the median bytes/second of the samples per access method, from runs and rehearsals alike', async () => {
    // Prepare
    const schema = uniqueName('offpeak_cal');
    await recordBuildSample(db.client, schema, { accessMethod: 'btree', bytes: 100e6, seconds: 10, source: 'run' }); // 10 MB/s
    await recordBuildSample(db.client, schema, { accessMethod: 'btree', bytes: 60e6, seconds: 3, source: 'rehearsal', index: 'idx_a', table: 'public.a' }); // 20 MB/s
    await recordBuildSample(db.client, schema, { accessMethod: 'btree', bytes: 1e6, seconds: 1, source: 'rehearsal' }); // 1 MB/s: an outlier
    await recordBuildSample(db.client, schema, { accessMethod: 'gin', bytes: 8e6, seconds: 4, source: 'run' });

    // Act
    const rates = await calibratedRates(db.client, schema);
    const hnsw = await buildRate(db.client, schema, 'hnsw');

    // Assess
    expect(rates.get('btree')).toEqual({ accessMethod: 'btree', bytesPerSecond: 10e6, calibrated: true, samples: 3 });
    expect(rates.get('gin')).toEqual({ accessMethod: 'gin', bytesPerSecond: 2e6, calibrated: true, samples: 1 });
    expect(hnsw).toMatchObject({ calibrated: false, bytesPerSecond: DEFAULT_BUILD_RATES['hnsw'] });
    expect((await samples(schema)).map((s) => s.source)).toEqual(['run', 'rehearsal', 'rehearsal', 'run']);
  });

  it('refuses a sample that cannot be a build, saying which field is wrong', async () => {
    // Prepare
    const schema = uniqueName('offpeak_cal');

    // Act
    const zero = recordBuildSample(db.client, schema, { accessMethod: 'btree', bytes: 10, seconds: 0, source: 'run' });
    const source = recordBuildSample(db.client, schema, { accessMethod: 'btree', bytes: 10, seconds: 1, source: 'guess' as 'run' });

    // Assess
    await expect(zero).rejects.toThrow(ValidationError);
    await expect(zero).rejects.toThrow(/seconds must be a number > 0/);
    await expect(source).rejects.toThrow(/source must be run or rehearsal/);
  });
});

describe("a run's index builds", () => {
  it('leave one sample each, sized by pg_relation_size and timed from the attempt started event, and none for an index that was already there', async () => {
    // Prepare: 20k rows, one index the run builds and one made beforehand by hand (IF NOT EXISTS skips it)
    const ns = uniqueName('app');
    await db.client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
    await db.client.query(sql`CREATE TABLE ${sql.ident(ns, 'items')} AS SELECT g AS id, g % 97 AS code FROM generate_series(1, 20000) g`);
    await db.client.query(sql`CREATE INDEX idx_items_code ON ${sql.ident(ns, 'items')} (code)`);
    const m = defineMigration({
      revision: 'r1',
      downRevision: null,
      description: 'two indexes',
      risk: 'low',
      up: [
        createIndex({ name: 'idx_items_id', schema: ns, table: 'items', columns: ['id'] }),
        createIndex({ name: 'idx_items_code', schema: ns, table: 'items', columns: ['code'] }),
        sqlStep(`ANALYZE ${ns}.items`, { tables: [`${ns}.items`], mode: 'standalone', lock: 'none' }),
      ],
      down: [],
    });
    const h = harness(db.client, [m]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('done');
    const rows = await samples(h.ledger);
    const { rows: size } = await db.client.query<{ bytes: number }>(sql`SELECT pg_relation_size(${`${ns}.idx_items_id`}::regclass)::bigint AS bytes`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ access_method: 'btree', bytes: size[0]!.bytes, source: 'run', index_name: 'idx_items_id', table_name: `${ns}.items`, run_id: result.runId });
    expect(rows[0]!.seconds).toBeGreaterThan(0);
    const rate = await buildRate(db.client, h.ledger, 'btree');
    expect(rate).toMatchObject({ calibrated: true, samples: 1 });
    expect(rate.bytesPerSecond).toBeCloseTo(rows[0]!.bytes / rows[0]!.seconds, 3);
  });
});

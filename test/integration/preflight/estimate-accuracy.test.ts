import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, SqlQuery } from '../../../lambdas/core/db/sql.ts';
import { createIndex, type IndexSpec } from '../../../lambdas/core/migrations/model.ts';
import { estimateSize } from '../../../lambdas/core/preflight/layout.ts';
import { readIndex } from '../../../lambdas/core/preflight/statistics.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { lacks } from '../../support/prerequisites.ts';
import { uniqueName } from '../migrations/helpers.ts';

/**
 * Pre-flight's size estimate against real builds: 100,000 rows made with generate_series (deterministic, no
 * randomness except pgvector's, seeded with setseed), ANALYZE, estimate, build, compare with pg_relation_size.
 * The issue's targets: ±25 % for B-tree kinds, ±50 % for IVFFlat (HNSW held to the same); GIN, documented as
 * rough, to ±100 %. The file prints the measured error per kind.
 */
const ROWS = 100_000;
let db: TestDatabase;
let ns: string;

beforeAll(async () => {
  db = await createTestDatabase();
  ns = uniqueName('est');
  const q = (text: string) => db.client.query(new SqlQuery([text]));
  await q(`CREATE SCHEMA ${ns}`);
  await q(`CREATE TABLE ${ns}.orders (id int NOT NULL, user_id int NOT NULL, created_at timestamptz NOT NULL, email text NOT NULL,
    status text NOT NULL, note text, tags text[])`);
  await q(`INSERT INTO ${ns}.orders SELECT g, g % 5000, timestamptz '2025-01-01' + g * interval '1 minute', 'User' || g || '@Example.com',
    (ARRAY['new', 'open', 'closed', 'closed'])[g % 4 + 1], CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('n', g % 40) END,
    ARRAY['t' || (g % 50), 'u' || (g % 7)] FROM generate_series(1, ${ROWS}) AS g`);
  await q(`ANALYZE ${ns}.orders`);
}, 300_000);

afterAll(async () => {
  await db?.dispose();
});

const figures: string[] = [];
afterAll(() => {
  console.log(`estimate accuracy on ${db?.kind} (${ROWS} rows):\n${figures.join('\n')}`);
});

async function measure(kind: string, spec: Omit<IndexSpec, 'schema' | 'name'>): Promise<number> {
  const name = `idx_${kind.toLowerCase().replace(/\W+/g, '_')}`;
  const step = createIndex({ ...spec, schema: ns, name, concurrently: false });
  const reading = await readIndex(db.client, step);
  const estimate = estimateSize(reading.shape, reading.maintenanceWorkMem);
  await db.client.query(new SqlQuery([step.sql]));
  const { rows } = await db.client.query<{ bytes: number }>(sql`SELECT pg_relation_size(${`${ns}.${name}`}::regclass)::float8 AS bytes`);
  const actual = rows[0]!.bytes;
  const error = (estimate.bytes - actual) / actual;
  figures.push(`  ${kind.padEnd(34)} estimated ${String(estimate.bytes).padStart(9)}  built ${String(actual).padStart(9)}  error ${(error * 100).toFixed(1)} %`);
  return error;
}

describe('B-tree estimates within ±25 % of the built index', () => {
  it.each<[string, Omit<IndexSpec, 'schema' | 'name'>]>([
    ['plain, unique values (int)', { table: 'orders', columns: ['id'] }],
    ['plain, 20 rows per key (dedup)', { table: 'orders', columns: ['user_id'] }],
    ['plain text', { table: 'orders', columns: ['email'] }],
    ['multi-column', { table: 'orders', columns: ['user_id', 'created_at DESC'] }],
    ['partial', { table: 'orders', columns: ['created_at'], where: "status = 'open'" }],
    ['INCLUDE', { table: 'orders', columns: ['user_id'], include: ['email'] }],
    ['expression', { table: 'orders', columns: ['lower(email)'] }],
    ['nullable column', { table: 'orders', columns: ['note'] }],
    ['unique', { table: 'orders', columns: ['email'], unique: true }],
    ['plain text, 3 values (dedup)', { table: 'orders', columns: ['status'] }],
  ])('%s', async (kind, spec) => {
    // Act
    const error = await measure(kind, spec);

    // Assess
    expect(Math.abs(error)).toBeLessThanOrEqual(0.25);
  });
});

describe('GIN, documented as rough: within ±100 %', () => {
  it('gin over a text[] of two elements per row', async () => {
    // Act
    const error = await measure('gin text[]', { table: 'orders', columns: ['tags'], using: 'gin' });

    // Assess
    expect(Math.abs(error)).toBeLessThanOrEqual(1);
  });
});

describe('pgvector: IVFFlat within ±50 %; HNSW too', () => {
  it('ivfflat over vector(32), lists 100', async (ctx) => {
    // Prepare: pgvector where available (PGlite ships it; Debian's PostgreSQL 15 here has none)
    if (lacks('pgvector', db.hasVector)) ctx.skip();
    const q = (text: string) => db.client.query(new SqlQuery([text]));
    await q('CREATE EXTENSION IF NOT EXISTS vector');
    await q('SELECT setseed(0.42)');
    await q(`CREATE TABLE ${ns}.embeddings (id int, embedding vector(32))`);
    await q(`INSERT INTO ${ns}.embeddings SELECT g, (SELECT array_agg(random()::real) FROM generate_series(1, 32) d WHERE g > 0)::vector(32)
      FROM generate_series(1, ${ROWS}) AS g`);
    await q(`ANALYZE ${ns}.embeddings`);

    // Act
    const error = await measure('ivfflat vector(32)', { table: 'embeddings', columns: ['embedding vector_l2_ops'], using: 'ivfflat', with: { lists: 100 } });

    // Assess
    expect(Math.abs(error)).toBeLessThanOrEqual(0.5);
  }, 300_000);

  it('hnsw over vector(32), m 16, on 10,000 rows (an HNSW build of 100,000 takes minutes on PGlite)', async (ctx) => {
    // Prepare
    if (lacks('pgvector', db.hasVector)) ctx.skip();
    const q = (text: string) => db.client.query(new SqlQuery([text]));
    await q('CREATE EXTENSION IF NOT EXISTS vector');
    await q('SELECT setseed(0.42)');
    await q(`CREATE TABLE ${ns}.small_embeddings (id int, embedding vector(32))`);
    await q(`INSERT INTO ${ns}.small_embeddings SELECT g, (SELECT array_agg(random()::real) FROM generate_series(1, 32) d WHERE g > 0)::vector(32)
      FROM generate_series(1, 10000) AS g`);
    await q(`ANALYZE ${ns}.small_embeddings`);

    // Act
    const error = await measure('hnsw vector(32), 10k rows', { table: 'small_embeddings', columns: ['embedding vector_l2_ops'], using: 'hnsw' });

    // Assess
    expect(Math.abs(error)).toBeLessThanOrEqual(0.5);
  }, 300_000);
});

import { sql } from '../../lambdas/core/db/sql.ts';
import type { SqlExecutor } from '../../lambdas/core/db/client.ts';

/**
 * The index-health checks' thresholds scaled to a fixture that builds in seconds; the rules are the
 * production ones. Pooled PostgreSQL connections publish DML counters up to 10 s late, which could
 * make a freshly analyzed fixture table look modified, so the modified-rows threshold is out of
 * reach; "never analyzed" still makes shop.audit stale.
 */
export const DEFECT_SCHEMA_OPTIONS = {
  oversizedMinBytes: 256 * 1024,
  bloatMinBytes: 256 * 1024,
  analyzeThresholdRows: 1e9,
};

async function run(client: SqlExecutor, statements: readonly string[]): Promise<void> {
  for (const text of statements) await client.query(sql`${sql.raw(text)}`);
}

/** Makes the statistics collector publish this backend's counters now (PG15+ flushes lazily). */
export async function flushStats(client: SqlExecutor): Promise<void> {
  await run(client, ['SELECT pg_stat_force_next_flush()', 'SELECT 1']);
}

/**
 * Schema `shop` with one real defect of every finding kind the checks know: an unused index
 * (idx_orders_qty, once usage history says so), an oversized expression index (idx_docs_body3), an
 * INVALID index left by a failed concurrent build (idx_orders_bad), a duplicate
 * (idx_orders_status_dup), an overlapping prefix (idx_orders_created_at), a foreign key without an
 * index (orders.product_id), a bloated index (idx_events_n) and a never-analyzed table (shop.audit);
 * beside indexes that must never be advised away (primary keys, a unique constraint, FK support).
 */
export async function createDefectSchema(client: SqlExecutor): Promise<void> {
  await run(client, [
    'CREATE SCHEMA shop',
    'CREATE TABLE shop.customers (id int PRIMARY KEY, email text UNIQUE, name text)',
    'CREATE TABLE shop.products (id int PRIMARY KEY, title text)',
    `CREATE TABLE shop.orders (id int PRIMARY KEY, customer_id int REFERENCES shop.customers, product_id int REFERENCES shop.products,
      status text, created_at timestamptz, qty int)`,
    // FK support: the only index leading with customer_id
    'CREATE INDEX idx_orders_customer_id ON shop.orders (customer_id)',
    'CREATE INDEX idx_orders_status ON shop.orders (status)',
    'CREATE INDEX idx_orders_status_dup ON shop.orders (status)',
    'CREATE INDEX idx_orders_created_at ON shop.orders (created_at)',
    'CREATE INDEX idx_orders_created_at_status ON shop.orders (created_at, status)',
    'CREATE INDEX idx_orders_qty ON shop.orders (qty)',
    'CREATE TABLE shop.docs (id int PRIMARY KEY, body text)',
    'CREATE INDEX idx_docs_body3 ON shop.docs ((body || body || body))',
    'CREATE TABLE shop.events (n int)',
    'CREATE INDEX idx_events_n ON shop.events (n)',
    'CREATE TABLE shop.audit (at timestamptz, note text)',
    'INSERT INTO shop.customers SELECT g, g || \'@example.com\', \'c\' FROM generate_series(1, 50) g',
    'INSERT INTO shop.products SELECT g, \'p\' FROM generate_series(1, 10) g',
    `INSERT INTO shop.orders SELECT g, 1 + g % 50, 1 + g % 10, 'new', now(), g % 7 FROM generate_series(1, 200) g`,
    'INSERT INTO shop.docs SELECT g, md5(g::text) FROM generate_series(1, 5000) g',
    'INSERT INTO shop.events SELECT g FROM generate_series(1, 30000) g',
    'DELETE FROM shop.events WHERE n % 20 <> 0',
    'VACUUM shop.events',
  ]);
  // Publish the DML counters before ANALYZE resets them, or they land after it and look like new changes.
  await flushStats(client);
  await run(client, ['ANALYZE shop.customers', 'ANALYZE shop.products', 'ANALYZE shop.orders', 'ANALYZE shop.docs', 'ANALYZE shop.events']);
  // A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind.
  const failed = await run(client, ['CREATE INDEX CONCURRENTLY idx_orders_bad ON shop.orders ((1 / (qty - 3)))']).then(() => null, (error: unknown) => error);
  if (!(failed instanceof Error) || !/division by zero/.test(failed.message)) {
    throw new Error(`defect schema: the concurrent build of idx_orders_bad should fail with division by zero, got ${String(failed)}`, { cause: failed });
  }
  await flushStats(client);
}

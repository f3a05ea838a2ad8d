import { createIndex, defineMigration, sqlStep, type Migration } from '../../../lambdas/core/migrations/model.ts';

/**
 * Small migration sets for the state-machine scenarios, each in its own
 * application schema `ns` (every scenario also has its own ledger schema).
 */

/** A table with rows (low risk, one transaction). */
export function table(ns: string, options: { duplicateCodes?: boolean } = {}): Migration {
  const t = `${ns}.orders`;
  return defineMigration({
    revision: '202601010001',
    downRevision: null,
    description: 'create orders',
    risk: 'low',
    up: [
      sqlStep(`CREATE SCHEMA IF NOT EXISTS ${ns}`, { lock: 'none' }),
      sqlStep(`CREATE TABLE ${t} (id bigint PRIMARY KEY, customer_id bigint, code text, created_at timestamptz NOT NULL DEFAULT now())`, { tables: [t] }),
      sqlStep(`INSERT INTO ${t} (id, customer_id, code) SELECT g, g % 7, ${options.duplicateCodes ? "'same'" : "'c' || g"} FROM generate_series(1, 50) AS g`, { tables: [t] }),
    ],
    down: [sqlStep(`DROP TABLE ${t}`, { tables: [t] }), sqlStep(`DROP SCHEMA ${ns}`, { lock: 'none' })],
  });
}

/** `count` concurrent index builds on the table: one standalone step each, so a run can stop between them. */
export function indexes(ns: string, count: number, options: { risk?: 'low' | 'high'; revision?: string; down?: string } = {}): Migration {
  const columns = ['customer_id', 'code', 'created_at', 'customer_id, code', 'code, created_at', 'customer_id, created_at', 'created_at, id', 'code, id'];
  return defineMigration({
    revision: options.revision ?? '202601010002',
    downRevision: options.down ?? '202601010001',
    description: `index orders (${count})`,
    risk: options.risk ?? 'low',
    ...(options.risk === 'high' ? { rollbackPlan: 'offpeak downgrade 202601010001 (drops the indexes concurrently)' } : {}),
    up: columns.slice(0, count).map((c, i) => createIndex({ name: `idx_orders_${i}`, schema: ns, table: 'orders', columns: c.split(', ') })),
  });
}

/** A unique index over duplicate codes: the build fails (SQLSTATE 23505). */
export function uniqueCodes(ns: string): Migration {
  return defineMigration({
    revision: '202601010002',
    downRevision: '202601010001',
    description: 'unique order codes',
    risk: 'low',
    up: [createIndex({ name: 'idx_orders_code_unique', schema: ns, table: 'orders', columns: ['code'], unique: true })],
  });
}

import { randomBytes } from 'node:crypto';
import { createIndex, defineMigration, sqlStep, type LoadedMigration, type Migration } from '../../../lambdas/core/migrations/model.ts';
import { fromModules } from '../../../lambdas/core/migrations/loader.ts';
import { createMigrator, type Migrator, type MigratorOptions } from '../../../lambdas/core/migrations/runner.ts';
import type { MigrationEvent } from '../../../lambdas/core/migrations/events.ts';
import type { SqlClient, SqlExecutor } from '../../../lambdas/core/db/client.ts';
import { quoteLiteral, sql } from '../../../lambdas/core/db/sql.ts';

/**
 * Synthetic migrations for the engine's integration tests. Every test works in its own
 * application schema and its own ledger schema, so one database serves a whole test file.
 */
export function load(...migrations: Migration[]): LoadedMigration[] {
  return fromModules(migrations.map((migration) => ({ file: `migrations/${migration.revision}_t.ts`, migration })));
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** Three migrations in schema `ns`: create a table, two concurrent indexes, add a column. */
export function chain(ns: string) {
  const t = `${ns}.widgets`;
  const m1 = defineMigration({
    revision: '202501010001',
    downRevision: null,
    description: 'create widgets',
    risk: 'low',
    up: [
      sqlStep(`CREATE SCHEMA IF NOT EXISTS ${ns}`, { lock: 'none' }),
      sqlStep(`CREATE TABLE ${t} (id bigint PRIMARY KEY, name text NOT NULL, owner_id bigint)`, { tables: [t] }),
    ],
    down: [sqlStep(`DROP TABLE ${t}`), sqlStep(`DROP SCHEMA ${ns}`, { lock: 'none' })],
  });
  const m2 = defineMigration({
    revision: '202501010002',
    downRevision: '202501010001',
    description: 'index widgets by name and owner',
    risk: 'low',
    up: [
      createIndex({ name: 'idx_widgets_name', schema: ns, table: 'widgets', columns: ['name'] }),
      createIndex({ name: 'idx_widgets_owner', schema: ns, table: 'widgets', columns: ['owner_id'] }),
    ],
  });
  const m3 = defineMigration({
    revision: '202501010003',
    downRevision: '202501010002',
    description: 'add color',
    risk: 'low',
    up: [sqlStep(`ALTER TABLE ${t} ADD COLUMN color text`, { tables: [t] })],
    down: [sqlStep(`ALTER TABLE ${t} DROP COLUMN color`, { tables: [t] })],
  });
  return { m1, m2, m3, all: [m1, m2, m3] as const };
}

/**
 * A new schema with table `items (id, code)` of `rows` rows and a function `slow(x)` that sleeps `seconds`
 * per call, so an index over `slow(…)` takes a while to build; `duplicate` gives every row the same code.
 * Returns the schema.
 */
export async function slowItems(client: SqlExecutor, options: { rows: number; seconds: number; duplicate?: boolean }): Promise<string> {
  const ns = uniqueName('app');
  await client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
  await client.query(
    sql`CREATE FUNCTION ${sql.ident(ns, 'slow')}(x int) RETURNS int LANGUAGE sql IMMUTABLE AS ${sql.raw(quoteLiteral(`SELECT x FROM (SELECT pg_sleep(${options.seconds})) s`))}`,
  );
  await client.query(sql`CREATE TABLE ${sql.ident(ns, 'items')} (id int PRIMARY KEY, code int)`);
  await client.query(
    sql`INSERT INTO ${sql.ident(ns, 'items')} SELECT g, ${options.duplicate ? sql`1` : sql`g`} FROM generate_series(1, ${options.rows}::int) AS g`,
  );
  return ns;
}

/** A new schema with table `codes (id, code)` holding two rows of the same code: a unique index on it fails. Returns the schema. */
export async function duplicateCodes(client: SqlExecutor): Promise<string> {
  const ns = uniqueName('app');
  await client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
  await client.query(sql`CREATE TABLE ${sql.ident(ns, 'codes')} (id int PRIMARY KEY, code text)`);
  await client.query(sql`INSERT INTO ${sql.ident(ns, 'codes')} VALUES (1, 'a'), (2, 'a')`);
  return ns;
}

/** Migration r1: a unique index on `ns.codes (code)`. */
export function uniqueCodesMigration(ns: string): Migration {
  return defineMigration({
    revision: 'r1',
    downRevision: null,
    description: 'unique codes',
    risk: 'low',
    up: [createIndex({ name: 'idx_codes_code', schema: ns, table: 'codes', columns: ['code'], unique: true })],
  });
}

/** Migration r1: builds an index over `ns.slow(column)`, a function that sleeps per row, so the build takes a while. */
export function slowIndexMigration(ns: string, options: { name?: string; column?: string; unique?: boolean } = {}): Migration {
  const { name = 'idx_items_slow', column = 'id', unique = false } = options;
  return defineMigration({
    revision: 'r1',
    downRevision: null,
    description: 'slow index',
    risk: 'low',
    up: [createIndex({ name, schema: ns, table: 'items', columns: [`${ns}.slow(${column})`], unique })],
  });
}

export interface Harness {
  migrator: Migrator;
  events: MigrationEvent[];
  ledger: string;
}

export function harness(client: SqlClient, migrations: readonly Migration[], options: Partial<MigratorOptions> = {}): Harness {
  const events: MigrationEvent[] = [];
  const ledger = options.schema ?? uniqueName('offpeak_t');
  const migrator = createMigrator({
    client,
    migrations: load(...migrations),
    schema: ledger,
    actor: 'test',
    pollIntervalMs: 100,
    deadlineMarginMs: 0,
    retryBaseMs: 20,
    ...options,
    onEvent: (e) => {
      events.push(e);
      options.onEvent?.(e);
    },
  });
  return { migrator, events, ledger };
}

export async function indexes(client: SqlClient, ns: string): Promise<Array<{ name: string; valid: boolean }>> {
  const { rows } = await client.query<{ name: string; valid: boolean }>(sql`
    SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ${ns} AND NOT i.indisprimary ORDER BY 1`);
  return rows;
}

export async function appliedRevisions(client: SqlClient, ledger: string): Promise<string[]> {
  const { rows } = await client.query<{ revision: string }>(sql`SELECT revision FROM ${sql.ident(ledger, 'applied_migrations')} ORDER BY revision`);
  return rows.map((r) => r.revision);
}

export async function columns(client: SqlClient, ns: string, table: string): Promise<string[]> {
  const { rows } = await client.query<{ c: string }>(sql`
    SELECT column_name AS c FROM information_schema.columns WHERE table_schema = ${ns} AND table_name = ${table} ORDER BY ordinal_position`);
  return rows.map((r) => r.c);
}

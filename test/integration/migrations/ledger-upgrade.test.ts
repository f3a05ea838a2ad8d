import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgClient } from '../../../lambdas/core/db/pg.ts';
import { sql, SqlQuery } from '../../../lambdas/core/db/sql.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { Ledger, LEDGER_VERSION } from '../../../lambdas/core/migrations/ledger.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { chain, harness, uniqueName } from './helpers.ts';
import { lacks } from '../../support/prerequisites.ts';

/**
 * A ledger made by offpeak before ledger versions (v1: no sqlstate or event_key on events, a status check
 * without unknown/interrupted, no runs.resumed_at), upgraded in place by `ensure`. Runs on PGlite and pg.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.dispose();
});

/** The v1 ledger's DDL as offpeak wrote it (tables only: what matters to the upgrade), with one run and one event. */
async function v1Ledger(schema: string): Promise<void> {
  const s = `"${schema}"`;
  const statements = [
    `CREATE SCHEMA ${s}`,
    `CREATE TABLE ${s}.applied_migrations (revision text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
      duration_ms integer NOT NULL DEFAULT 0, actor text NOT NULL, description text NOT NULL DEFAULT '', run_id text, recorded_only boolean NOT NULL DEFAULT false)`,
    `CREATE TABLE ${s}.migration_events (id bigserial PRIMARY KEY, run_id text NOT NULL, revision text NOT NULL,
      direction text NOT NULL CHECK (direction IN ('up', 'down')), step integer NOT NULL,
      status text NOT NULL CHECK (status IN ('started', 'done', 'skipped', 'failed', 'recorded')), error text, duration_ms integer,
      at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    `CREATE TABLE ${s}.migration_runs (run_id text PRIMARY KEY, target text NOT NULL, direction text NOT NULL CHECK (direction IN ('up', 'down')),
      status text NOT NULL CHECK (status IN ('in_progress', 'window_closed', 'done', 'failed', 'abandoned')), plan jsonb NOT NULL,
      position integer NOT NULL DEFAULT 0, actor text NOT NULL, error text, started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE ${s}.lease (name text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL, acquired_at timestamptz NOT NULL)`,
    `CREATE TABLE ${s}.migration_tables (revision text NOT NULL, schema_name text NOT NULL, table_name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (revision, schema_name, table_name))`,
    `INSERT INTO ${s}.migration_runs (run_id, target, direction, status, plan, actor) VALUES ('old-run', 'head', 'up', 'done', '{"units":[]}', 'v1')`,
    `INSERT INTO ${s}.migration_events (run_id, revision, direction, step, status) VALUES ('old-run', 'r0', 'up', 0, 'done')`,
  ];
  for (const text of statements) await db.client.query(new SqlQuery([text]));
}

const columnsOf = async (schema: string, table: string) =>
  (
    await db.client.query<{ c: string }>(
      sql`SELECT column_name AS c FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = ${table} ORDER BY ordinal_position`,
    )
  ).rows.map((r) => r.c);

describe('a ledger made before ledger versions', () => {
  it('is upgraded in place by its owner, keeping its rows, and takes the new statuses and idempotent events', async () => {
    // Prepare
    const schema = uniqueName('offpeak_v1');
    await v1Ledger(schema);
    const ledger = new Ledger(db.client, schema);

    // Act
    await ledger.ensure();
    const entry = { runId: 'old-run', events: [{ revision: 'r0', direction: 'up' as const, step: 1, status: 'unknown' as const, key: 'k1' }] };
    await ledger.journal(db.client, entry);
    await ledger.journal(db.client, entry); // a write retried after a lost response
    await ledger.journal(db.client, { runId: 'old-run', events: [{ revision: 'r0', direction: 'up', step: 2, status: 'failed', error: 'boom', sqlState: '23505' }] });

    // Assess: additive (old rows and columns kept), the mark set, a retried keyed write counted once
    expect(await columnsOf(schema, 'migration_events')).toEqual(['id', 'run_id', 'revision', 'direction', 'step', 'status', 'error', 'duration_ms', 'at', 'sqlstate', 'event_key']);
    expect(await columnsOf(schema, 'migration_runs')).toContain('resumed_at');
    const events = await ledger.events('old-run');
    expect(events.map((e) => [e.step, e.status, e.key, e.sqlState])).toEqual([
      [0, 'done', null, null],
      [1, 'unknown', 'k1', null],
      [2, 'failed', null, '23505'],
    ]);
    const { rows } = await db.client.query<{ mark: string }>(sql`SELECT obj_description(to_regclass(${`"${schema}".migration_events`}), 'pg_class') AS mark`);
    expect(rows[0]!.mark).toBe(`offpeak ledger v${LEDGER_VERSION}`);
    expect((await ledger.getRun('old-run'))?.resumedAt).toBeNull();
  });

  it('runs migrations after the upgrade', async () => {
    // Prepare
    const schema = uniqueName('offpeak_v1');
    await v1Ledger(schema);
    const ns = uniqueName('app');
    const h = harness(db.client, chain(ns).all, { schema });

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status, result.error?.message).toBe('done');
    expect(h.events.filter((e) => e.event === 'step_done')).toHaveLength(5);
  });
});

describe.skipIf(lacks('postgresql'))('a ledger made before ledger versions, opened by a migration role (PostgreSQL only: roles)', () => {
  const roles: string[] = [];
  afterAll(async () => {
    for (const role of roles) {
      await db.client.query(sql`DROP OWNED BY ${sql.ident(role)}`);
      await db.client.query(sql`DROP ROLE ${sql.ident(role)}`);
    }
  });

  it('is refused with what to do, naming the owner, and nothing changes', async () => {
    // Prepare: a role with DML and CREATE on the ledger's schema, but not its owner
    const schema = uniqueName('offpeak_v1');
    await v1Ledger(schema);
    const role = uniqueName('offpeak_mig');
    await db.client.query(sql`CREATE ROLE ${sql.ident(role)} LOGIN`);
    roles.push(role);
    await db.client.query(sql`GRANT USAGE, CREATE ON SCHEMA ${sql.ident(schema)} TO ${sql.ident(role)}`);
    await db.client.query(sql`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${sql.ident(schema)} TO ${sql.ident(role)}`);
    const url = new URL(db.url!);
    url.username = role;
    const client = createPgClient({ connectionString: url.toString() });
    const { rows: owner } = await db.client.query<{ u: string }>(sql`SELECT current_user AS u`);

    try {
      // Act
      const attempt = new Ledger(client, schema).ensure();

      // Assess: a ConfigError naming the owner; the upgrade is one statement, so none of it happened
      await expect(attempt).rejects.toBeInstanceOf(ConfigError);
      await expect(attempt).rejects.toThrow(new RegExp(`only its owner \\(role ${owner[0]!.u}\\)`));
      expect(await columnsOf(schema, 'migration_events')).not.toContain('sqlstate');
      expect(await columnsOf(schema, 'migration_runs')).not.toContain('resumed_at');
    } finally {
      await client.close();
    }
  });
});

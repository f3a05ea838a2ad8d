import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { createPgClient } from '../../../lambdas/core/db/pg.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { ChecksumMismatchError, LeaseHeldError, LeaseLostError, MigrationGraphError } from '../../../lambdas/core/errors.ts';
import { Lease } from '../../../lambdas/core/migrations/lease.ts';
import { Ledger } from '../../../lambdas/core/migrations/ledger.ts';
import { defineMigration, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { appliedRevisions, chain, columns, harness, indexes, uniqueName } from './helpers.ts';
import { lacks } from '../../support/prerequisites.ts';

/** Ledger, lease, adoption, stamp, squash and refusals, on the test database (pg or PGlite). */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.dispose();
});

describe('lease', () => {
  it('refuses a second owner and lets a new owner take an expired lease', async () => {
    // Prepare
    const schema = uniqueName('offpeak_l');
    await new Ledger(db.client, schema).ensure();
    const first = new Lease(db.client, { owner: 'first', schema, ttlMs: 60_000 });
    const second = new Lease(db.client, { owner: 'second', schema, ttlMs: 60_000 });

    // Act
    await first.acquire();
    const refused = await second.acquire().catch((e: unknown) => e);
    await first.renew();
    await db.client.query(sql`UPDATE ${sql.ident(schema, 'lease')} SET expires_at = now() - interval '1 second'`);
    const taken = await second.acquire();

    // Assess
    expect(refused).toBeInstanceOf(LeaseHeldError);
    expect((refused as LeaseHeldError).owner).toBe('first');
    expect(taken.owner).toBe('second');
    await expect(first.renew()).rejects.toBeInstanceOf(LeaseLostError);
    await expect(first.renew()).rejects.toThrow(/second holds it/);
  });

  it('never revives a released lease on a late heartbeat, and extends one that expired untaken', async () => {
    // Prepare
    const schema = uniqueName('offpeak_l');
    await new Ledger(db.client, schema).ensure();
    const lease = new Lease(db.client, { owner: 'only', schema, ttlMs: 60_000 });
    await lease.acquire();
    await db.client.query(sql`UPDATE ${sql.ident(schema, 'lease')} SET expires_at = now() - interval '1 second'`);

    // Act
    const extended = await lease.renew();
    await lease.release();
    const late = await lease.renew().catch((e: unknown) => e);
    const holder = await lease.holder();

    // Assess
    expect(extended.owner).toBe('only');
    expect(late).toBeInstanceOf(LeaseLostError);
    expect(holder).toBeUndefined();
  });

  it('makes a second migrator fail with LeaseHeldError while a run holds the lease', async () => {
    // Prepare
    const ns = uniqueName('app');
    const a = harness(db.client, chain(ns).all);
    const b = harness(db.client, chain(ns).all, { schema: a.ledger });
    await a.migrator.ledger.ensure();
    await new Lease(db.client, { owner: 'someone-else', schema: a.ledger }).acquire();

    // Act
    const refused = await b.migrator.runToCompletion('up', 'head').catch((e: unknown) => e);

    // Assess
    expect(refused).toBeInstanceOf(LeaseHeldError);
    expect(await appliedRevisions(db.client, a.ledger)).toEqual([]);
  });
});

describe('alembic adoption', () => {
  it('reports alembic_version as current and records the chain up to it without running it', async () => {
    // Prepare: the state an Alembic-managed database is in (tables of 0001 exist, alembic_version says 0002).
    const ns = uniqueName('app');
    const { all } = chain(ns);
    await db.client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
    await db.client.query(sql`CREATE TABLE ${sql.ident(ns, 'widgets')} (id bigint PRIMARY KEY, name text NOT NULL, owner_id bigint)`);
    await db.client.query(sql`CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY)`);
    await db.client.query(sql`INSERT INTO alembic_version VALUES ('202501010002')`);
    const h = harness(db.client, all);

    try {
      // Act
      const before = await h.migrator.status();
      const result = await h.migrator.runToCompletion('up', 'head');

      // Assess
      expect(before).toMatchObject({ current: ['202501010002'], adoptedFrom: 'alembic', pending: ['202501010003'] });
      expect(result).toMatchObject({ status: 'done', recorded: ['202501010001', '202501010002'], applied: ['202501010003'] });
      expect(await indexes(db.client, ns)).toEqual([]); // 0002's indexes were not built: adoption runs nothing
      expect(await columns(db.client, ns, 'widgets')).toContain('color');
      expect(await appliedRevisions(db.client, h.ledger)).toEqual(['202501010001', '202501010002', '202501010003']);
      expect((await h.migrator.status()).adoptedFrom).toBeNull();
    } finally {
      await db.client.query(sql`DROP TABLE alembic_version`);
    }
  });
});

describe('refusals against the ledger', () => {
  it('refuses a tampered applied migration and an applied revision whose file is gone, naming the file', async () => {
    // Prepare
    const ns = uniqueName('app');
    const { m1, m2, m3 } = chain(ns);
    const h = harness(db.client, [m1, m2, m3]);
    await h.migrator.runToCompletion('up', '202501010002');
    const tampered = { ...m1, up: [...m1.up, sqlStep(`CREATE TABLE ${ns}.extra (id int)`)] };

    // Act
    const changed = await harness(db.client, [tampered, m2, m3], { schema: h.ledger }).migrator.runToCompletion('up', 'head').catch((e: unknown) => e);
    const withoutFile = harness(db.client, [m1], { schema: h.ledger }).migrator;
    const gone = await withoutFile.check().catch((e: unknown) => e);
    const shown = await withoutFile.status(); // status commands show it as a warning (check refuses it)

    // Assess
    expect(changed).toBeInstanceOf(ChecksumMismatchError);
    expect((changed as Error).message).toContain('migrations/202501010001_t.ts');
    expect(gone).toBeInstanceOf(MigrationGraphError);
    expect((gone as Error).message).toContain('202501010002 is applied');
    expect(shown.warnings).toEqual([expect.stringContaining('202501010002 is applied')]);
    expect(await columns(db.client, ns, 'widgets')).not.toContain('color');
  });

  it('refuses a downgrade to an unknown revision and changes nothing', async () => {
    // Prepare
    const ns = uniqueName('app');
    const h = harness(db.client, chain(ns).all);
    await h.migrator.runToCompletion('up', 'head');

    // Act
    const refused = await h.migrator.runToCompletion('down', '999999').catch((e: unknown) => e);

    // Assess
    expect(refused).toBeInstanceOf(MigrationGraphError);
    expect((refused as Error).message).toContain('unknown revision 999999');
    expect(await appliedRevisions(db.client, h.ledger)).toEqual(['202501010001', '202501010002', '202501010003']);
  });
});

describe('stamp and preview', () => {
  it('stamps a revision without running anything', async () => {
    // Prepare
    const ns = uniqueName('app');
    const h = harness(db.client, chain(ns).all);

    // Act
    const heads = await h.migrator.stamp('202501010002');
    const back = await h.migrator.stamp('202501010001');

    // Assess
    expect(heads).toEqual(['202501010002']);
    expect(back).toEqual(['202501010001']);
    expect(await appliedRevisions(db.client, h.ledger)).toEqual(['202501010001']);
    const schemas = await db.client.query(sql`SELECT 1 FROM pg_namespace WHERE nspname = ${ns}`);
    expect(schemas.rows).toEqual([]);
  });

  it('previews every statement in order, marking standalone ones, without creating the ledger', async () => {
    // Prepare
    const ns = uniqueName('app');
    const h = harness(db.client, chain(ns).all);

    // Act
    const { statements, text } = h.migrator.previewSql(await h.migrator.plan('up', 'head'));

    // Assess
    expect(statements.filter((s) => s.step >= 0).map((s) => [s.revision, s.step, s.standalone])).toEqual([
      ['202501010001', 0, false],
      ['202501010001', 1, false],
      ['202501010002', 0, true],
      ['202501010002', 1, true],
      ['202501010003', 0, false],
    ]);
    expect(text).toContain('-- outside a transaction (autocommit):\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_widgets_name');
    expect(text).toContain("BEGIN;\nSET LOCAL lock_timeout = '3000ms';");
    expect(await h.migrator.ledger.exists()).toBe(false);
  });
});

describe('squash', () => {
  const ns = uniqueName('sq');
  const { m1, m2, m3 } = chain(ns);
  const squash = defineMigration({
    revision: 'squash_0003',
    downRevision: null,
    description: 'squash of 0001-0003',
    risk: 'low',
    replaces: ['202501010001', '202501010002', '202501010003'],
    up: [...m1.up, ...m2.up.map((s) => ({ ...s })), ...m3.up],
    down: [...m3.down, ...m2.down, ...m1.down],
    mixedLocking: { reason: 'test squash' },
  });
  const m4 = defineMigration({
    revision: '202501010004',
    downRevision: '202501010003',
    description: 'add weight',
    risk: 'low',
    up: [sqlStep(`ALTER TABLE ${ns}.widgets ADD COLUMN weight int`, { tables: [`${ns}.widgets`] })],
    down: [sqlStep(`ALTER TABLE ${ns}.widgets DROP COLUMN weight`)],
  });

  it('runs the squash instead of the originals on a fresh database, and resolves once the originals are deleted', async () => {
    // Prepare
    const h = harness(db.client, [m1, m2, m3, squash, m4]);

    // Act
    const fresh = await h.migrator.runToCompletion('up', 'head');
    const withoutOriginals = harness(db.client, [squash, m4], { schema: h.ledger });
    const status = await withoutOriginals.migrator.status();
    const down = await withoutOriginals.migrator.runToCompletion('down', 'base');

    // Assess
    expect(fresh).toMatchObject({ status: 'done', applied: ['squash_0003', '202501010004'] });
    expect(status).toMatchObject({ current: ['202501010004'], pending: [] });
    expect(down).toMatchObject({ status: 'done', applied: ['202501010004', 'squash_0003'] });
    expect(await appliedRevisions(db.client, h.ledger)).toEqual([]);
  });

  it('runs the missing originals, then records the squash, where some originals are applied', async () => {
    // Prepare
    const before = harness(db.client, [m1, m2, m3, m4]);
    await before.migrator.runToCompletion('up', '202501010001');
    const h = harness(db.client, [m1, m2, m3, squash, m4], { schema: before.ledger });

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result).toMatchObject({ status: 'done', applied: ['202501010002', '202501010003', '202501010004'], recorded: ['squash_0003'] });
    expect(await indexes(db.client, ns)).toEqual([
      { name: 'idx_widgets_name', valid: true },
      { name: 'idx_widgets_owner', valid: true },
    ]);
    expect(await appliedRevisions(db.client, h.ledger)).toEqual(['202501010001', '202501010002', '202501010003', '202501010004', 'squash_0003']);
    await h.migrator.runToCompletion('down', 'base');
  });
});

describe.skipIf(lacks('postgresql'))('lock contention (PostgreSQL only: PGlite is one connection)', () => {
  it('retries strong-lock DDL on 55P03 while another session holds the table, then succeeds', async () => {
    // Prepare: another session holds a lock that ALTER TABLE must wait for; it lets go after ~600 ms.
    const ns = uniqueName('app');
    const { m1, m3 } = chain(ns);
    const m3b = { ...m3, downRevisions: ['202501010001'] };
    const h = harness(db.client, [m1, m3b], { lockTimeoutMs: 100, lockAttempts: 20, retryBaseMs: 50 });
    await h.migrator.runToCompletion('up', '202501010001');
    const holder = new pg.Client({ connectionString: db.url! });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE ${ns}.widgets IN ACCESS SHARE MODE`);
    const release = setTimeout(() => void holder.query('COMMIT'), 600);

    try {
      // Act
      const result = await h.migrator.runToCompletion('up', 'head');

      // Assess
      expect(result.status).toBe('done');
      expect(h.events.filter((e) => e.event === 'lock_timeout_retry').length).toBeGreaterThan(0);
      expect(await columns(db.client, ns, 'widgets')).toContain('color');
    } finally {
      clearTimeout(release);
      await holder.end();
    }
  });
});

describe.skipIf(lacks('postgresql'))('a ledger made by an earlier offpeak, opened by a migration role (PostgreSQL only: roles)', () => {
  const roles: string[] = [];
  afterAll(async () => {
    // Roles belong to the cluster, not to the test database: drop them (and what they own here) again.
    for (const role of roles) {
      await db.client.query(sql`DROP OWNED BY ${sql.ident(role)}`);
      await db.client.query(sql`DROP ROLE ${sql.ident(role)}`);
    }
  });

  /** A ledger whose tables exist without execute_step, and a client as a role with DML on it (and CREATE on its schema if asked). */
  async function olderLedger(createOnSchema: boolean): Promise<{ schema: string; client: SqlClient }> {
    const schema = uniqueName('offpeak_old');
    const role = uniqueName('offpeak_mig');
    await new Ledger(db.client, schema).ensure();
    await db.client.query(sql`DROP FUNCTION ${sql.ident(schema, 'execute_step')}(text, text)`);
    await db.client.query(sql`CREATE ROLE ${sql.ident(role)} LOGIN`);
    roles.push(role);
    await db.client.query(sql`GRANT USAGE ${sql.raw(createOnSchema ? ', CREATE' : '')} ON SCHEMA ${sql.ident(schema)} TO ${sql.ident(role)}`);
    await db.client.query(sql`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${sql.ident(schema)} TO ${sql.ident(role)}`);
    await db.client.query(sql`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${sql.ident(schema)} TO ${sql.ident(role)}`);
    const url = new URL(db.url!);
    url.username = role;
    return { schema, client: createPgClient({ connectionString: url.toString() }) };
  }

  it('adds execute_step with CREATE on the ledger schema alone (no CREATE on the database)', async () => {
    // Prepare
    const { schema, client } = await olderLedger(true);

    try {
      // Act
      await new Ledger(client, schema).ensure();

      // Assess
      const { rows } = await db.client.query<{ fn: boolean }>(sql`SELECT to_regprocedure(${`"${schema}".execute_step(text,text)`}) IS NOT NULL AS fn`);
      expect(rows[0]!.fn).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('says what to do when the role may not create the function either', async () => {
    // Prepare
    const { schema, client } = await olderLedger(false);

    try {
      // Act + Assess
      await expect(new Ledger(client, schema).ensure()).rejects.toThrow(new RegExp(`lacks ${schema}\\.execute_step.*GRANT CREATE ON SCHEMA`));
    } finally {
      await client.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { defineMigration, sqlStep, type SqlStep } from '../../../lambdas/core/migrations/model.ts';
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from '../../support/database.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { harness, slowItems, uniqueName } from './helpers.ts';

/**
 * Standalone raw SQL steps are journaled `done` only when their outcome is known to be success: a statement
 * that may run inside a function runs inside its own "done" write; one that cannot is checked with its
 * `verify` query, and without one ends `unknown` when it ran past its call.
 */
const one = (step: SqlStep) =>
  defineMigration({ revision: 'r1', downRevision: null, description: 'standalone step', risk: 'low', up: [step], down: { irreversible: 'a test step' } });

async function statuses(db: TestDatabase, ledger: string): Promise<string[]> {
  const { rows } = await db.client.query<{ status: string }>(sql`SELECT status FROM ${sql.ident(ledger, 'migration_events')} WHERE step = 0 ORDER BY id`);
  return rows.map((r) => r.status);
}

async function tableExists(db: TestDatabase, name: string): Promise<boolean> {
  const { rows } = await db.client.query<{ found: boolean }>(sql`SELECT to_regclass(${name}) IS NOT NULL AS found`);
  return rows[0]!.found;
}

describe('verify on standalone steps (the model)', () => {
  it('is refused on a transactional step and when it is not a SELECT, saying what to write', () => {
    expect(() => sqlStep('UPDATE t SET x = 1', { verify: 'SELECT true' })).toThrow(ValidationError);
    expect(() => sqlStep('UPDATE t SET x = 1', { verify: 'SELECT true' })).toThrow(/verify is for standalone steps/);
    expect(() => sqlStep('VACUUM t', { mode: 'standalone', verify: 'DELETE FROM t' })).toThrow(/one SELECT statement returning one row/);
    expect(sqlStep('VACUUM t', { mode: 'standalone', verify: 'SELECT true;' }).verify).toBe('SELECT true');
  });
});

// PGlite by default, PostgreSQL with TEST_DATABASE_URL.
describe('standalone steps whose outcome the client sees', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  }, 60_000);
  afterAll(async () => {
    await db?.dispose();
  });

  it('a DO block that raises fails the run with its error and is not done', async () => {
    // Prepare
    const h = harness(db.client, [one(sqlStep(`DO $$ BEGIN RAISE EXCEPTION 'boom'; END $$`, { mode: 'standalone', lock: 'none' }))]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('failed');
    expect(result.error?.message).toContain('boom');
    expect(await statuses(db, h.ledger)).toEqual(['started', 'failed']);
  });

  it('a step whose verify already holds on the first unit of a call is journaled done without running', async () => {
    // Prepare: the statement would fail if it ran.
    const h = harness(db.client, [one(sqlStep(`DO $$ BEGIN RAISE EXCEPTION 'must not run'; END $$`, { mode: 'standalone', lock: 'none', verify: 'SELECT true' }))]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status, result.error?.message).toBe('done');
    expect(await statuses(db, h.ledger)).toEqual(['started', 'done']);
  });

  it('a raw statement that may run inside a function commits with its done write', async () => {
    // Prepare
    const ns = uniqueName('app');
    await db.client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
    const h = harness(db.client, [one(sqlStep(`CREATE TABLE ${ns}.made (id int)`, { mode: 'standalone', lock: 'none' }))]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status, result.error?.message).toBe('done');
    expect(await tableExists(db, `${ns}.made`)).toBe(true);
    expect(await statuses(db, h.ledger)).toEqual(['started', 'done']);
  });
});

describe.skipIf(!testDatabaseUrl)('standalone steps that run past their Data API call (1 s statement timeout, PostgreSQL)', () => {
  let api: TestDataApi;
  beforeAll(async () => {
    api = await startTestDataApi({ statementTimeoutMs: 1000 });
  }, 60_000);
  afterAll(async () => {
    await api?.dispose();
  });

  it('a DO block that raises after its call returned is not done: the run fails, nothing of it kept', async () => {
    // Prepare
    const ns = uniqueName('app');
    await api.db.client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
    const step = sqlStep(`DO $$ BEGIN CREATE TABLE ${ns}.half (id int); PERFORM pg_sleep(1.5); RAISE EXCEPTION 'boom after the call'; END $$`, { mode: 'standalone', lock: 'none' });
    const h = harness(api.adapter(), [one(step)]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status).toBe('failed');
    expect(result.error?.message).toMatch(/ran past its call and ended without committing .*PostgreSQL's log/);
    expect(await statuses(api.db, h.ledger)).toEqual(['started', 'failed']);
    expect(await tableExists(api.db, `${ns}.half`)).toBe(false);
    expect(await h.migrator.current()).toEqual([]);
  });

  it('a DO block that succeeds after its call returned is done once', async () => {
    // Prepare
    const ns = uniqueName('app');
    await api.db.client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
    const step = sqlStep(`DO $$ BEGIN PERFORM pg_sleep(1.5); CREATE TABLE ${ns}.made (id int); END $$`, { mode: 'standalone', lock: 'none' });
    const h = harness(api.adapter(), [one(step)]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status, result.error?.message).toBe('done');
    expect(await tableExists(api.db, `${ns}.made`)).toBe(true);
    expect(await statuses(api.db, h.ledger)).toEqual(['started', 'done']);
    // Its applied row's duration covers the statement, though the done write was made before it ran.
    const { rows } = await api.db.client.query<{ ms: number }>(sql`SELECT duration_ms AS ms FROM ${sql.ident(h.ledger, 'applied_migrations')}`);
    expect(rows[0]!.ms).toBeGreaterThanOrEqual(1400);
  });

  it('a statement that cannot run in a function and outlives its call, without verify, ends unknown and fails the run', async () => {
    // Prepare: a raw concurrent build (not the builder) over a function that sleeps per row
    const ns = await slowItems(api.db.client, { rows: 15, seconds: 0.1 });
    const step = sqlStep(`CREATE INDEX CONCURRENTLY idx_raw ON ${ns}.items (${ns}.slow(id))`, { mode: 'standalone', lock: 'concurrent' });
    const h = harness(api.adapter(), [one(step)]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess: never done, the way out named
    expect(result.status).toBe('failed');
    expect(result.error?.message).toContain("nothing can tell whether it succeeded");
    expect(result.error?.message).toContain("add `verify: 'SELECT …'`");
    expect(await statuses(api.db, h.ledger)).toEqual(['started', 'unknown']);
    expect(await h.migrator.current()).toEqual([]);
  });

  it('the same statement with a verify query is done once verify holds', async () => {
    // Prepare
    const ns = await slowItems(api.db.client, { rows: 15, seconds: 0.1 });
    const step = sqlStep(`CREATE INDEX CONCURRENTLY idx_raw ON ${ns}.items (${ns}.slow(id))`, {
      mode: 'standalone',
      lock: 'concurrent',
      verify: `SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('${ns}.idx_raw') AND indisvalid)`,
    });
    const h = harness(api.adapter(), [one(step)]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess
    expect(result.status, result.error?.message).toBe('done');
    expect(await statuses(api.db, h.ledger)).toEqual(['started', 'done']);
    expect(await h.migrator.current()).toEqual(['r1']);
  });
});

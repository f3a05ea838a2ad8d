import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { defineMigration, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { appliedRevisions, chain, columns, duplicateCodes, harness, indexes, uniqueCodesMigration, uniqueName } from './helpers.ts';

/**
 * Resume that re-plans: a resumed run checks its stored plan against the ledger and against what its
 * target means now, and re-plans when either moved; `stamp` ends unfinished runs; runs can be listed,
 * abandoned, or restarted.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.dispose();
});

/** A deadline already passed: advance stops before its first unit and leaves the run in progress. */
const passed = () => ({ deadline: new Date(Date.now() - 60_000) });

async function runStatus(ledger: string, runId: string): Promise<{ status: string; error: string | null }> {
  const { rows } = await db.client.query<{ status: string; error: string | null }>(
    sql`SELECT status, error FROM ${sql.ident(ledger, 'migration_runs')} WHERE run_id = ${runId}`,
  );
  return rows[0]!;
}

describe('resume re-plans', () => {
  it('a failed run, fixed in the database, resumes with a migration added since and applies it too', async () => {
    // Prepare: r1 (a unique index over duplicate codes) fails; the data is then fixed and r2 is written.
    const ns = await duplicateCodes(db.client);
    const r1 = uniqueCodesMigration(ns);
    const first = harness(db.client, [r1]);
    const failed = await first.migrator.runToCompletion('up', 'head');
    await db.client.query(sql`DELETE FROM ${sql.ident(ns, 'codes')} WHERE id = 2`);
    const r2 = defineMigration({
      revision: 'r2',
      downRevision: 'r1',
      description: 'codes get a note',
      risk: 'low',
      up: [sqlStep(`ALTER TABLE ${ns}.codes ADD COLUMN note text`, { tables: [`${ns}.codes`] })],
      down: [sqlStep(`ALTER TABLE ${ns}.codes DROP COLUMN note`, { tables: [`${ns}.codes`] })],
    });
    const later = harness(db.client, [r1, r2], { schema: first.ledger });

    // Act
    const resumed = await later.migrator.runToCompletion('up', 'head');

    // Assess
    expect(failed.status).toBe('failed');
    expect(resumed).toMatchObject({ status: 'done', runId: failed.runId, applied: ['r1', 'r2'] });
    expect(later.events.find((e) => e.event === 'run_replanned')).toMatchObject({ runId: failed.runId, reason: expect.stringContaining('now also r2') });
    expect((await later.migrator.status()).pending).toEqual([]);
    expect(await columns(db.client, ns, 'codes')).toContain('note');
    expect(await indexes(db.client, ns)).toEqual([{ name: 'idx_codes_code', valid: true }]);
  });

  it('stamp ends an unfinished upgrade: the next upgrade head runs nothing the ledger says is applied', async () => {
    // Prepare: an upgrade to head stopped before it ran anything, then `stamp head`.
    const ns = uniqueName('app');
    const h = harness(db.client, chain(ns).all);
    await db.client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
    await db.client.query(sql`CREATE TABLE ${sql.ident(ns, 'widgets')} (id bigint PRIMARY KEY, name text NOT NULL, owner_id bigint, color text)`);
    const { runId } = await h.migrator.start('up', 'head');
    const stopped = await h.migrator.advance(runId, passed());
    await h.migrator.stamp('head');

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess: nothing ran (the table was made by hand; the chain's first step would fail on it)
    expect(stopped).toMatchObject({ status: 'in_progress', position: 0 });
    expect(await runStatus(h.ledger, runId)).toEqual({ status: 'abandoned', error: 'ended by stamp head' });
    expect(result).toMatchObject({ status: 'done', applied: [], total: 0 });
    expect(result.runId).not.toBe(runId);
    expect(await indexes(db.client, ns)).toEqual([]);
    expect(await h.migrator.runs()).toEqual([]);
  });

  it('stamp ends an unfinished downgrade: the next downgrade -1 reverts what the ledger says is applied last', async () => {
    // Prepare: the chain applied; a `downgrade -1` (which meant 202501010003) stopped; then stamp 202501010002.
    const ns = uniqueName('app');
    const h = harness(db.client, chain(ns).all);
    await h.migrator.runToCompletion('up', 'head');
    const { runId } = await h.migrator.start('down', '-1');
    await h.migrator.advance(runId, passed());
    await h.migrator.stamp('202501010002');

    // Act
    const result = await h.migrator.runToCompletion('down', '-1');

    // Assess: 202501010002's indexes are dropped; 202501010003's column stays (the ledger says it is not applied)
    expect(await runStatus(h.ledger, runId)).toMatchObject({ status: 'abandoned' });
    expect(result).toMatchObject({ status: 'done', applied: ['202501010002'] });
    expect(await indexes(db.client, ns)).toEqual([]);
    expect(await columns(db.client, ns, 'widgets')).toContain('color');
    expect(await appliedRevisions(db.client, h.ledger)).toEqual(['202501010001']);
  });

  it('re-plans a resumed downgrade -1 from the ledger, keeping -1 relative to where the run started', async () => {
    // Prepare: the chain applied; `downgrade -1` (meaning 202501010003) stopped; then 202501010003 is
    // reverted by hand (column dropped, ledger row deleted).
    const ns = uniqueName('app');
    const h = harness(db.client, chain(ns).all);
    await h.migrator.runToCompletion('up', 'head');
    const { runId } = await h.migrator.start('down', '-1');
    await h.migrator.advance(runId, passed());
    await db.client.query(sql`ALTER TABLE ${sql.ident(ns, 'widgets')} DROP COLUMN color`);
    await db.client.query(sql`DELETE FROM ${sql.ident(h.ledger, 'applied_migrations')} WHERE revision = '202501010003'`);

    // Act
    const result = await h.migrator.runToCompletion('down', '-1');

    // Assess: the same run, re-planned to nothing; 202501010002 (now the last applied) is not reverted
    expect(result).toMatchObject({ status: 'done', runId, applied: [], total: 0 });
    expect(h.events.find((e) => e.event === 'run_replanned')).toMatchObject({ reason: expect.stringContaining('no longer 202501010003') });
    expect(await appliedRevisions(db.client, h.ledger)).toEqual(['202501010001', '202501010002']);
    expect((await indexes(db.client, ns)).map((i) => i.name)).toEqual(['idx_widgets_name', 'idx_widgets_owner']);
  });

  it('resumes a mixed migration without planning its finished standalone steps again', async () => {
    // Prepare: the run stops after the first of 202501010002's two index builds (the clock jumps past the
    // deadline then); then head moves (a new migration).
    const ns = uniqueName('app');
    const { m1, m2, m3 } = chain(ns);
    let clock = Date.parse('2025-01-01T00:00:00Z');
    const h = harness(db.client, [m1, m2], {
      now: () => new Date(clock),
      onEvent: (e) => {
        if (e.event === 'step_done' && e.revision === '202501010002' && e.step === 0) clock += 60_000;
      },
    });
    const { runId } = await h.migrator.start('up', 'head');
    const stopped = await h.migrator.advance(runId, { deadline: new Date(clock + 30_000) });
    const later = harness(db.client, [m1, m2, m3], { schema: h.ledger });

    // Act
    const result = await later.migrator.runToCompletion('up', 'head');

    // Assess: re-planned to m2's second step and m3; m2's first build did not run again
    expect(stopped).toMatchObject({ status: 'in_progress', position: 2, next: { revision: '202501010002', step: 1 } });
    expect(later.events.find((e) => e.event === 'run_replanned')).toMatchObject({ units: 2 });
    expect(later.events.filter((e) => e.event === 'step_started').map((e) => `${e.revision}:${e.step}`)).toEqual(['202501010002:1', '202501010003:0']);
    expect(result).toMatchObject({ status: 'done', runId, applied: ['202501010002', '202501010003'] });
    expect(await appliedRevisions(db.client, h.ledger)).toEqual(['202501010001', '202501010002', '202501010003']);
    expect(await indexes(db.client, ns)).toEqual([
      { name: 'idx_widgets_name', valid: true },
      { name: 'idx_widgets_owner', valid: true },
    ]);
  });
});

describe('runs, abandon, restart', () => {
  it('lists an unfinished run, abandons it, and --restart abandons before starting afresh', async () => {
    // Prepare
    const ns = uniqueName('app');
    const h = harness(db.client, chain(ns).all);
    const { runId } = await h.migrator.start('up', 'head');
    await h.migrator.advance(runId, passed());

    // Act
    const listed = await h.migrator.runs();
    await h.migrator.abandon(runId);
    const afterAbandon = await h.migrator.runs();
    const again = await h.migrator.start('up', '+1');
    await h.migrator.advance(again.runId, passed());
    const restarted = await h.migrator.runToCompletion('up', '+1', { restart: true });
    const twice = await h.migrator.abandon(runId).catch((e: unknown) => e);

    // Assess
    expect(listed).toEqual([
      expect.objectContaining({ runId, direction: 'up', target: 'head', status: 'in_progress', position: 0, total: 4, next: expect.objectContaining({ revision: '202501010001' }) }),
    ]);
    expect(afterAbandon).toEqual([]);
    expect(await runStatus(h.ledger, runId)).toEqual({ status: 'abandoned', error: 'abandoned by test' });
    expect(restarted).toMatchObject({ status: 'done', applied: ['202501010001'] });
    expect(restarted.runId).not.toBe(again.runId);
    expect(await runStatus(h.ledger, again.runId)).toEqual({ status: 'abandoned', error: 'abandoned by a --restart of upgrade +1' });
    expect(String(twice)).toMatch(/is abandoned, not unfinished/);
  });
});

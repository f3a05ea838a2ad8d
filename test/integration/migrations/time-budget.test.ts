import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import type { MigrationEvent } from '../../../lambdas/core/migrations/events.ts';
import { defineMigration, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { runnerTransports, type RunnerTransport } from '../../support/runner-transports.ts';
import { appliedRevisions, harness, uniqueName } from './helpers.ts';

/**
 * Time budgets of transactional units (issue 17 item 6), with an injected clock: a unit starts only when its
 * statements fit before the deadline at the statement timeout each (plus the margin), the first unit of a call
 * always starts, and past the deadline between statements the transaction is rolled back with its bookkeeping.
 */
const A = '202501010001';
const B = '202501010002';

/** A: schema + table a (2 statements). B: tables b1, b2, b3 (3 statements, one transaction). */
function twoUnits(ns: string, bAlone = false) {
  const a = defineMigration({
    revision: A,
    downRevision: null,
    description: 'schema and a',
    risk: 'low',
    up: [sqlStep(`CREATE SCHEMA ${ns}`, { lock: 'none' }), sqlStep(`CREATE TABLE ${ns}.a (id int)`, { tables: [`${ns}.a`] })],
    down: { irreversible: 'test migration' },
  });
  const b = defineMigration({
    revision: B,
    downRevision: bAlone ? null : A,
    description: 'three tables',
    risk: 'low',
    up: [1, 2, 3].map((i) => sqlStep(`CREATE TABLE ${ns}.b${i} (id int)`, { tables: [`${ns}.b${i}`] })),
    down: { irreversible: 'test migration' },
  });
  return { a, b };
}

describe.each(runnerTransports)('time budgets %s', (_name, open) => {
  let t: RunnerTransport;
  beforeAll(async () => {
    t = await open();
  }, 120_000);
  afterAll(async () => {
    await t?.dispose();
  });

  /** A clock the test moves; `onEvent` may move it when the runner reaches a point. */
  function setup(options: { statementTimeoutMs?: number; only?: 'b'; onEvent?: (e: MigrationEvent, clock: { ms: number }) => void } = {}) {
    const ns = uniqueName('app');
    const { a, b } = twoUnits(ns, options.only === 'b');
    const clock = { ms: Date.parse('2026-01-01T00:00:00Z') };
    const migrations = options.only === 'b' ? [b] : [a, b];
    const h = harness(t.runner, migrations, {
      now: () => new Date(clock.ms),
      deadlineMarginMs: 1_000,
      ...(options.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: options.statementTimeoutMs }),
      onEvent: (e) => options.onEvent?.(e, clock),
    });
    return { ns, clock, h };
  }

  const tableExists = async (ns: string, table: string) =>
    (await t.db.client.query<{ ok: boolean }>(sql`SELECT to_regclass(${`${ns}.${table}`}) IS NOT NULL AS ok`)).rows[0]!.ok;
  const eventsOf = async (ledger: string, revision: string) =>
    (await t.db.client.query<{ status: string }>(sql`SELECT status FROM ${sql.ident(ledger, 'migration_events')} WHERE revision = ${revision} ORDER BY id`)).rows.map((r) => r.status);

  it('does not start a unit whose statements would not fit before the deadline; the next call runs it first', async () => {
    // Prepare: 10 s per statement, 1 s margin; A "takes" 10 s, leaving 15 s of 25 for B, which needs 3 × 10 + 1
    const { ns, clock, h } = setup({
      statementTimeoutMs: 10_000,
      onEvent: (e, c) => {
        if (e.event === 'migration_done' && e.revision === A) c.ms += 10_000;
      },
    });
    const { runId } = await h.migrator.start('up', 'head');

    // Act
    const first = await h.migrator.advance(runId, { deadline: new Date(clock.ms + 25_000) });

    // Assess: B not started: no table, no event, no ledger row; the run waits at B
    expect(first.status).toBe('in_progress');
    expect(first.applied).toEqual([A]);
    expect(first.next).toMatchObject({ revision: B });
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual([A]);
    expect(await eventsOf(h.ledger, B)).toEqual([]);
    expect(await tableExists(ns, 'b1')).toBe(false);
    expect(h.events.filter((e) => e.event === 'time_budget_stop')).toEqual([
      expect.objectContaining({ revision: B, reason: 'not_started', neededMs: 31_000, leftMs: 15_000 }),
    ]);

    // Act: a new call with as little time left: B is its first unit, so it starts
    const second = await h.migrator.advance(runId, { deadline: new Date(clock.ms + 15_000) });

    // Assess
    expect(second.status).toBe('done');
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual([A, B]);
  });

  it("plans with the client's statement timeout: 45 s a statement through the Data API, none directly", async () => {
    // Prepare: 120 s left after A; B's 3 statements need 3 × 45 + 1 = 136 s through the Data API
    const { clock, h } = setup();
    const { runId } = await h.migrator.start('up', 'head');

    // Act
    const result = await h.migrator.advance(runId, { deadline: new Date(clock.ms + 120_000) });

    // Assess
    const viaDataApi = t.kind.startsWith('data-api/');
    expect(result.status).toBe(viaDataApi ? 'in_progress' : 'done');
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual(viaDataApi ? [A] : [A, B]);
    if (viaDataApi) expect(h.events.find((e) => e.event === 'time_budget_stop')).toMatchObject({ neededMs: 136_000 });
  });

  it('rolls a unit back when the deadline passes between its statements, leaving the ledger as it was', async () => {
    // Prepare: B starts with 99 s left (needs 31 s) but its first statement "takes" 100 s
    const { ns, clock, h } = setup({
      statementTimeoutMs: 10_000,
      onEvent: (e, c) => {
        if (e.event === 'step_started' && e.revision === B && e.step === 0) c.ms += 100_000;
      },
    });
    const { runId } = await h.migrator.start('up', 'head');

    // Act
    const result = await h.migrator.advance(runId, { deadline: new Date(clock.ms + 99_000) });

    // Assess: B's first table and its bookkeeping rolled back; the run waits at B
    expect(result.status).toBe('in_progress');
    expect(result.applied).toEqual([A]);
    expect(result.next).toMatchObject({ revision: B });
    expect(await tableExists(ns, 'b1')).toBe(false);
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual([A]);
    expect(await eventsOf(h.ledger, B)).toEqual([]);
    expect(h.events.filter((e) => e.event === 'time_budget_stop')).toEqual([expect.objectContaining({ revision: B, step: 1, reason: 'rolled_back' })]);
  });

  it('fails the run when the first unit of a call runs past the deadline between statements: it cannot fit in any call', async () => {
    // Prepare: B alone (its schema made beforehand); its first statement "takes" longer than the whole call
    const { ns, clock, h } = setup({
      statementTimeoutMs: 10_000,
      only: 'b',
      onEvent: (e, c) => {
        if (e.event === 'step_started' && e.step === 0) c.ms += 100_000;
      },
    });
    await t.db.client.query(sql`CREATE SCHEMA ${sql.ident(ns)}`);
    const { runId } = await h.migrator.start('up', 'head');

    // Act
    const result = await h.migrator.advance(runId, { deadline: new Date(clock.ms + 60_000) });

    // Assess: nothing of B applied, the failure journaled with what to do
    expect(result.status).toBe('failed');
    expect(result.error?.message).toMatch(/rolled back before step 2.*standalone step with a `verify`/);
    expect(await tableExists(ns, 'b1')).toBe(false);
    expect(await appliedRevisions(t.db.client, h.ledger)).toEqual([]);
    expect(await eventsOf(h.ledger, B)).toEqual(['failed']);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { defineMigration, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { runnerTransports, type RunnerTransport } from '../../support/runner-transports.ts';
import { harness, uniqueName } from './helpers.ts';

const STEP_SECONDS = 0.25;

/**
 * Durations (issue 17 item 7): a migration's duration runs from its first step's start to its last step's
 * end, across advance calls; the migration_done event (the CLI's line) and applied_migrations.duration_ms agree.
 */
describe.each(runnerTransports)('durations %s', (_name, open) => {
  let t: RunnerTransport;
  beforeAll(async () => {
    t = await open();
  }, 120_000);
  afterAll(async () => {
    await t?.dispose();
  });

  it('a six-step standalone migration lasts all six steps, across two calls, in the event and in the ledger', async () => {
    // Prepare: six standalone steps of STEP_SECONDS each; the first call is interrupted after step 3
    const ns = uniqueName('app');
    const steps = Array.from({ length: 6 }, (_, i) =>
      sqlStep(`SELECT pg_sleep(${STEP_SECONDS}) /* ${ns} step ${i + 1} */`, { mode: 'standalone', lock: 'none', description: `sleep ${i + 1}` }),
    );
    const m = defineMigration({ revision: 'r1', downRevision: null, description: 'six sleeps', risk: 'low', up: steps, down: { irreversible: 'test' } });
    const controller = new AbortController();
    const h = harness(t.runner, [m], {
      onEvent: (e) => {
        if (e.event === 'step_done' && e.step === 2) controller.abort();
      },
    });
    const { runId } = await h.migrator.start('up', 'head');
    const wallStart = Date.now();

    // Act
    const first = await h.migrator.advance(runId, { signal: controller.signal });
    const second = await h.migrator.advance(runId);
    const wallMs = Date.now() - wallStart;

    // Assess
    const done = h.events.filter((e) => e.event === 'migration_done');
    const { rows } = await t.db.client.query<{ duration_ms: number }>(sql`SELECT duration_ms FROM ${sql.ident(h.ledger, 'applied_migrations')} WHERE revision = 'r1'`);
    const recorded = rows[0]!.duration_ms;
    console.info(`${t.kind}: six ${STEP_SECONDS} s steps over two calls: recorded ${recorded} ms, wall ${wallMs} ms`);
    expect(first).toMatchObject({ status: 'interrupted', position: 3 });
    expect(second).toMatchObject({ status: 'done', applied: ['r1'] });
    expect(done).toHaveLength(1);
    expect(Math.round((done[0] as { durationMs: number }).durationMs)).toBe(recorded);
    expect(recorded).toBeGreaterThanOrEqual(6 * STEP_SECONDS * 1000);
    expect(recorded).toBeLessThanOrEqual(wallMs + 1000); // the database's clock and ours may differ by a little
  });
});

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqlQuery } from '../../../lambdas/core/db/sql.ts';
import { createIndex, defineMigration } from '../../../lambdas/core/migrations/model.ts';
import { recordBuildSample } from '../../../lambdas/core/preflight/calibration.ts';
import { createHarness, StateName as S, type Harness } from './harness.ts';

vi.mock('../../../migrations/_index.ts', () => ({
  get migrations() {
    return (globalThis as Record<string, unknown>)['__offpeakScenarioMigrations'] ?? [];
  },
}));

/**
 * Pre-flight as the window run's first state (the plan function), in the synthesized state machine executed
 * locally (harness.ts): a build estimated longer than the whole window fails the run before any change, with a
 * readable run_failed notice; one that fits goes on to migrate.
 */
let h: Harness;
beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-03-04T23:00:00Z') });
  h = await createHarness();
});
afterAll(async () => {
  vi.useRealTimers();
  await h?.dispose();
});

/** A table with rows made outside the migrations, and one migration that indexes it. */
async function indexedTable(ns: string) {
  const q = (text: string) => h.api.db.client.query(new SqlQuery([text]));
  await q(`CREATE SCHEMA ${ns}`);
  await q(`CREATE TABLE ${ns}.events AS SELECT g AS id, 'e' || g AS code FROM generate_series(1, 5000) g`);
  await q(`ANALYZE ${ns}.events`);
  return defineMigration({
    revision: '202601020001',
    downRevision: null,
    description: 'index events by code',
    risk: 'low',
    up: [createIndex({ name: 'idx_events_code', schema: ns, table: 'events', columns: ['code'] })],
  });
}

describe('window run, executed: pre-flight first', () => {
  it('refuses a build longer than the whole window before any change: one run_failed notice with the numbers and the fix', async () => {
    // Prepare: this target's history says btree builds crawl (1 byte per 10 s)
    const migration = await indexedTable('app_pf_slow');
    await recordBuildSample(h.api.db.client, 'offpeak_pf_slow', { accessMethod: 'btree', bytes: 1, seconds: 10, source: 'rehearsal' });
    await h.deploy([migration], 'offpeak_pf_slow');

    // Act
    const x = await h.run();

    // Assess
    expect(x.caught).toEqual([{ state: S.plan, error: 'PreflightRefusedError' }]);
    expect(x.path.at(-1)).toBe(S.failedNotified);
    expect(x.calls.migrate).toBe(0);
    expect(x.notices).toHaveLength(1);
    expect(x.notices[0]!.notice).toMatchObject({
      kind: 'run_failed',
      step: S.plan,
      errorName: 'PreflightRefusedError',
      message: expect.stringMatching(
        /^pre-flight refused the run before any change: 202601020001 step 1: index app_pf_slow\.idx_events_code \(btree\) on app_pf_slow\.events is estimated at [\d.]+ kB and [\d.]+ h, longer than the whole 120-minute window: .*Widen the window to at least \d+ minutes, or build it by hand/,
      ),
    });
    expect(x.notices[0]!.text).not.toMatch(/\.ts:\d+/);
    expect(await h.runs('offpeak_pf_slow')).toEqual([]);
    const { rows } = await h.api.db.client.query<{ found: boolean }>(new SqlQuery(["SELECT to_regclass('app_pf_slow.idx_events_code') IS NOT NULL AS found"]));
    expect(rows[0]!.found).toBe(false);
  });

  it('refuses builds that need more disk than the writer\'s FreeLocalStorage (CloudWatch) before any change', async () => {
    // Prepare: CloudWatch says the writer has 1 kB free; the index alone is larger
    const migration = await indexedTable('app_pf_disk');
    await h.deploy([migration], 'offpeak_pf_disk');

    // Act
    const x = await h.run({ freeLocalStorage: 1024 });

    // Assess
    expect(x.caught).toEqual([{ state: S.plan, error: 'PreflightRefusedError' }]);
    expect(x.calls.migrate).toBe(0);
    expect(x.notices).toHaveLength(1);
    expect(x.notices[0]!.notice).toMatchObject({
      kind: 'run_failed',
      errorName: 'PreflightRefusedError',
      message: expect.stringMatching(
        /^pre-flight refused the run before any change: the builds need about [\d.]+ kB \([\d.]+ kB of indexes \+ 0 bytes of the largest sort spill\), more than the 1\.0 kB free \(FreeLocalStorage of the writer of offpeak-local, CloudWatch minimum at [0-9T:.-]+Z\): free disk/,
      ),
    });
    const { rows } = await h.api.db.client.query<{ found: boolean }>(new SqlQuery(["SELECT to_regclass('app_pf_disk.idx_events_code') IS NOT NULL AS found"]));
    expect(rows[0]!.found).toBe(false);
  });

  it('lets a plan that fits go on to migrate, its estimate and the free space it was checked against in the plan state', async () => {
    // Prepare
    const migration = await indexedTable('app_pf_fits');
    await h.deploy([migration], 'offpeak_pf_fits');

    // Act: 40 GB free on the writer
    const x = await h.run({ freeLocalStorage: 40e9 });

    // Assess
    expect(x.caught).toEqual([]);
    expect(x.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
    expect(await h.applied('offpeak_pf_fits')).toEqual(['202601020001']);
    const planned = (x.output as { plan?: { preflight?: unknown } } | null)?.plan?.preflight;
    expect(planned).toMatchObject({
      builds: 1,
      uncalibrated: 1,
      window: { minutes: 120, fits: true, unitsThatFit: 1 },
      freeBytes: 40e9,
      freeBytesSource: expect.stringMatching(/^FreeLocalStorage of the writer of offpeak-local, CloudWatch minimum at /),
    });
    // The build, run through the Data API, left its calibration sample for the next pre-flight.
    const { rows } = await h.api.db.client.query<{ access_method: string; source: string; index_name: string; bytes: number; seconds: number }>(
      new SqlQuery(['SELECT access_method, source, index_name, bytes, seconds FROM offpeak_pf_fits.index_build_samples']),
    );
    expect(rows).toEqual([expect.objectContaining({ access_method: 'btree', source: 'run', index_name: 'idx_events_code' })]);
    expect(rows[0]!.bytes).toBeGreaterThan(0);
    expect(rows[0]!.seconds).toBeGreaterThan(0);
  });
});

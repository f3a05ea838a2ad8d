import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EnvName } from '../../../lambdas/runtime/env-names.ts';
import { lacks } from '../../support/prerequisites.ts';
import { until } from '../../support/wait.ts';
import { createHarness, StateName as S, type Harness } from './harness.ts';
import { table } from './scenario-migrations.ts';

vi.mock('../../../migrations/_index.ts', () => ({
  get migrations() {
    return (globalThis as Record<string, unknown>)['__offpeakScenarioMigrations'] ?? [];
  },
}));

/**
 * The window run's critical-load (context criticalLoad → OFFPEAK_CRITICAL_LOAD on the migrate function): over it the
 * run stops for the window with the window-closed notice saying why, and the next window resumes it. Busy sessions
 * need a server: PostgreSQL only (PGlite has one session).
 */
const BUSY = 'SELECT pg_sleep(600) /* state-machine load */';
let h: Harness;
beforeAll(async () => {
  if (lacks('postgresql')) return;
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-03-04T23:00:00Z') });
  h = await createHarness();
});
afterAll(async () => {
  delete process.env[EnvName.criticalLoad];
  vi.useRealTimers();
  await h?.dispose();
});

describe.skipIf(lacks('postgresql'))('window run, executed: the load guard (PostgreSQL)', () => {
  it('over criticalLoad the run stops for the window with a notice saying why, and the next window finishes it', async () => {
    // Prepare: the migrate function deployed with criticalLoad active=2; three sessions busy
    await h.deploy([table('app_load')], 'offpeak_load');
    process.env[EnvName.criticalLoad] = 'active=2';
    const clients = [0, 1, 2].map(() => new pg.Client({ connectionString: h.api.db.url! }));
    const observer = new pg.Client({ connectionString: h.api.db.url! });
    await Promise.all([...clients, observer].map((c) => c.connect()));
    const busy = clients.map((c) => c.query(BUSY).catch(() => undefined));
    try {
      await until('three busy sessions', async () => (await observer.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query = $1`, [BUSY])).rowCount === 3);

      // Act
      const first = await h.run();
      const appliedAfterFirst = await h.applied('offpeak_load');
      const runsAfterFirst = await h.runs('offpeak_load');
      await observer.query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = $1`, [BUSY]);
      await Promise.all(busy);
      const second = await h.run();

      // Assess: stopped early (nothing applied), resumable; the next window applied it
      expect(first.status).toBe('SUCCEEDED');
      expect(first.path.at(-1)).toBe(S.pausedUntilNextWindow);
      expect(first.notices.map((n) => n.notice['kind'])).toEqual(['window_closed']);
      expect(first.notices[0]!.notice['loadCritical']).toBe('active=3 > 2');
      expect(first.notices[0]!.subject).toMatch(/stopped at 0\/\d+ on critical load, resumes next window/);
      expect(first.notices[0]!.text).toContain('the database was over critical-load (active=3 > 2)');
      expect(appliedAfterFirst).toEqual([]);
      expect(runsAfterFirst).toEqual([expect.objectContaining({ status: 'in_progress', position: 0 })]);
      expect(second.notices.map((n) => n.notice['kind'])).toEqual(['run_done']);
      expect(await h.applied('offpeak_load')).toHaveLength(1);
    } finally {
      delete process.env[EnvName.criticalLoad];
      await Promise.all([...clients, observer].map((c) => c.end()));
    }
  });
});

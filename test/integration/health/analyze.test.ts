import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { runAnalyze } from '../../../lambdas/core/health/analyze.ts';

let db: TestDatabase;

/** A clock that moves one second per reading, so a deadline admits an exact number of tables. */
function steppingClock(start: Date): () => Date {
  let t = start.getTime();
  return () => new Date((t += 1000));
}

// A database per test, so each stands alone (any order, `--sequence.shuffle`).
beforeEach(async () => {
  db = await createTestDatabase();
  for (const name of ['a_first', 'b_second', 'c_third']) {
    await db.client.query(sql`CREATE TABLE ${sql.ident('public', name)} (id int)`);
  }
});

afterEach(async () => {
  await db?.dispose();
});

describe('nightly ANALYZE', () => {
  it('stops at the deadline and resumes the next run where it stopped', async () => {
    // Prepare: three never-analyzed tables; each run's deadline admits one table
    const start = new Date('2026-11-28T01:00:00Z');

    // Act
    const first = await runAnalyze({ client: db.client, deadline: new Date(start.getTime() + 2_500), clock: steppingClock(start) });
    const second = await runAnalyze({ client: db.client, deadline: new Date(start.getTime() + 2_500), clock: steppingClock(start) });
    const third = await runAnalyze({ client: db.client, deadline: new Date(Date.now() + 60_000) });

    // Assess
    expect(first.queued).toBe(3);
    expect(first.records.map((r) => [r.table, r.outcome])).toEqual([['a_first', 'analyzed']]);
    expect(first.remaining).toBe(2);
    expect(second.records.map((r) => r.table)).toEqual(['b_second']);
    expect(second.remaining).toBe(1);
    expect(third.records.map((r) => r.table)).toEqual(['c_third']);
    expect(third.remaining).toBe(0);
    const { rows } = await db.client.query<{ table_name: string; reason: string; outcome: string }>(
      sql`SELECT table_name, reason, outcome FROM offpeak.analyze_log ORDER BY id`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(['a_first', 'b_second', 'c_third']);
    expect(rows.every((r) => r.outcome === 'analyzed' && r.reason.startsWith('never_analyzed'))).toBe(true);
  });

  it('re-analyzes a table a migration touched after its last ANALYZE', async () => {
    // Prepare: every table analyzed once, then the engine's record of touched tables, with a migration
    // applied after that ANALYZE
    const before = await runAnalyze({ client: db.client, deadline: new Date(Date.now() + 60_000) });
    expect(before.records.map((r) => r.table).sort()).toEqual(['a_first', 'b_second', 'c_third']);
    await db.client.query(sql`CREATE TABLE IF NOT EXISTS offpeak.migration_tables (
      revision text NOT NULL, schema_name text NOT NULL, table_name text NOT NULL, applied_at timestamptz NOT NULL,
      PRIMARY KEY (revision, schema_name, table_name))`);
    await db.client.query(sql`INSERT INTO offpeak.migration_tables VALUES ('abc123', 'public', 'b_second', now() + interval '1 minute')`);

    // Act
    const result = await runAnalyze({ client: db.client, deadline: new Date(Date.now() + 60_000) });

    // Assess
    expect(result.records.map((r) => [r.table, r.reason.split(':')[0]])).toEqual([['b_second', 'migrated']]);
  });

  it('with --all queues every table, and a dropped table is skipped, not failed', async () => {
    // Prepare: a first run makes the queue; then a new table, and a queued one that no longer exists
    await runAnalyze({ client: db.client, deadline: new Date(Date.now() + 60_000) });
    await db.client.query(sql`CREATE TABLE public.d_dropped (id int)`);
    await db.client.query(sql`INSERT INTO offpeak.analyze_queue (schema_name, table_name, reason) VALUES ('public', 'gone', 'requested')`);

    // Act
    const result = await runAnalyze({ client: db.client, deadline: new Date(Date.now() + 60_000), all: true });

    // Assess
    const outcomes = Object.fromEntries(result.records.map((r) => [r.table, r.outcome]));
    expect(outcomes).toEqual({ gone: 'skipped', a_first: 'analyzed', b_second: 'analyzed', c_third: 'analyzed', d_dropped: 'analyzed' });
  });
});

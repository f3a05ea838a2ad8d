import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { runAnalyze } from '../../../lambdas/core/health/analyze.ts';
import { defineMigration, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { testDatabaseUrl, type TestDatabase } from '../../support/database.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { harness, slowItems } from '../migrations/helpers.ts';

/**
 * ANALYZE one at a time: an ANALYZE that outlives its Data API call (1 s statement timeout) is followed to its
 * end before the next starts, in the runner's verification and in the nightly sweep, and recorded only once
 * finished. The slow ANALYZE: a table with an expression index over a function that sleeps 0.1 s per row
 * (ANALYZE evaluates index expressions for its sample). PostgreSQL only: following needs a second session.
 */
interface Counted {
  client: SqlClient;
  /** ANALYZE statements sent, by text. */
  analyzes: string[];
}

function counting(client: SqlClient): Counted {
  const analyzes: string[] = [];
  return {
    analyzes,
    client: {
      ...client,
      executeLong: (query) => {
        const text = query.toString();
        if (text.startsWith('ANALYZE')) analyzes.push(text);
        return client.executeLong(query);
      },
    },
  };
}

/** A schema with `items` of `rows` rows and an index over slow(id): ANALYZE of it takes rows × 0.1 s. */
async function slowToAnalyze(db: TestDatabase, rows: number): Promise<string> {
  const ns = await slowItems(db.client, { rows, seconds: 0.1 });
  await db.client.query(sql`CREATE INDEX idx_items_slow ON ${sql.ident(ns, 'items')} (${sql.ident(ns, 'slow')}(id))`);
  return ns;
}

async function lastAnalyze(db: TestDatabase, ns: string): Promise<Date | null> {
  const { rows } = await db.client.query<{ at: Date | null }>(sql`SELECT pg_stat_get_last_analyze_time(to_regclass(${`${ns}.items`})) AS at`);
  return rows[0]!.at;
}

const touchItems = (ns: string) =>
  defineMigration({
    revision: 'r1',
    downRevision: null,
    description: 'comment on items',
    risk: 'low',
    up: [sqlStep(`COMMENT ON TABLE ${ns}.items IS 'analyzed by the run'`, { tables: [`${ns}.items`] })],
    down: [sqlStep(`COMMENT ON TABLE ${ns}.items IS NULL`, { tables: [`${ns}.items`] })],
  });

describe.skipIf(!testDatabaseUrl)('ANALYZE that outlives its call (Data API, 1 s statement timeout, PostgreSQL)', () => {
  let api: TestDataApi;
  beforeAll(async () => {
    api = await startTestDataApi({ statementTimeoutMs: 1000 });
  }, 60_000);
  afterAll(async () => {
    await api?.dispose();
  });

  it('the run’s verification follows it to its end before it reports the table analyzed', async () => {
    // Prepare: ANALYZE takes about 2 s
    const ns = await slowToAnalyze(api.db, 20);
    const counted = counting(api.adapter());
    const h = harness(counted.client, [touchItems(ns)]);

    // Act
    const result = await h.migrator.runToCompletion('up', 'head');

    // Assess: finished when the run says so (the old way returned with the ANALYZE still running)
    expect(result.status, result.error?.message).toBe('done');
    expect(result.verification?.analyzed).toEqual([`${ns}.items`]);
    expect(await lastAnalyze(api.db, ns)).not.toBeNull();
    expect(counted.analyzes).toHaveLength(1);
  });

  it('a verification that reaches its deadline mid-ANALYZE stops; the next call follows the same ANALYZE instead of starting another', async () => {
    // Prepare: ANALYZE takes about 5 s; each poll moves the clock 10 s, so a 30 s deadline passes after a few polls.
    const ns = await slowToAnalyze(api.db, 50);
    const counted = counting(api.adapter());
    let clock = Date.now();
    const h = harness(counted.client, [touchItems(ns)], {
      now: () => new Date(clock),
      sleep: (ms) => {
        clock += 10_000;
        return new Promise((r) => setTimeout(r, Math.min(ms, 100)));
      },
    });
    const { runId } = await h.migrator.start('up', 'head');

    // Act
    const first = await h.migrator.advance(runId, { deadline: new Date(clock + 30_000) });
    const analyzedAfterFirst = await lastAnalyze(api.db, ns);
    const second = await h.migrator.advance(runId);

    // Assess
    expect(first.status).toBe('in_progress');
    expect(first.verification).toBeUndefined();
    expect(analyzedAfterFirst).toBeNull();
    expect(second.status, second.error?.message).toBe('done');
    expect(second.verification?.analyzed).toEqual([`${ns}.items`]);
    expect(await lastAnalyze(api.db, ns)).not.toBeNull();
    expect(counted.analyzes).toHaveLength(1);
  });

  it('the nightly sweep ANALYZEs one table at a time, each recorded once finished; one still running at the deadline stays queued and is followed next time', async () => {
    // Prepare: two slow tables (about 3 s each) in a database of their own
    const a = await slowToAnalyze(api.db, 30);
    const b = await slowToAnalyze(api.db, 30);
    const counted = counting(api.adapter());
    let clock = Date.now();
    const jumpy = {
      clock: () => new Date(clock),
      sleep: (ms: number) => {
        clock += 10_000;
        return new Promise<void>((r) => setTimeout(r, Math.min(ms, 100)));
      },
      pollIntervalMs: 100,
    };

    // Act: the first night's deadline passes while the first slow ANALYZE runs; the second night has time.
    const first = await runAnalyze({ client: counted.client, all: true, deadline: new Date(clock + 30_000), ...jumpy });
    clock = Date.now();
    const second = await runAnalyze({ client: counted.client, all: true, deadline: new Date(Date.now() + 120_000), pollIntervalMs: 100 });

    // Assess: the first night recorded neither slow table; the second recorded both, one after the other, each
    // ANALYZE sent once (the one left running was followed, not started again)
    const slow = new Set([`${a}.items`, `${b}.items`]);
    expect(first.records.filter((r) => slow.has(`${r.schema}.${r.table}`))).toEqual([]);
    expect(first.remaining).toBeGreaterThanOrEqual(2);
    const done = second.records.filter((r) => slow.has(`${r.schema}.${r.table}`));
    expect(done.map((r) => r.outcome)).toEqual(['analyzed', 'analyzed']);
    const [x, y] = [...done].sort((p, q) => p.startedAt.getTime() - q.startedAt.getTime());
    expect(y!.startedAt.getTime()).toBeGreaterThanOrEqual(x!.startedAt.getTime() + x!.durationMs);
    for (const ns of [a, b]) {
      expect(await lastAnalyze(api.db, ns)).not.toBeNull();
      expect(counted.analyzes.filter((text) => text.includes(`"${ns}"`))).toHaveLength(1);
    }
  }, 120_000);
});

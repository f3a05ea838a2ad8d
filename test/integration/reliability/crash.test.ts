import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { createTestDatabase, testDatabaseUrl, type TestDatabase } from '../../support/database.ts';
import { bundleSeedChild, converge, runSeedChild, type ChildRun } from './crash-child.ts';
import { ledgerMismatches, resetSeed, seedHead } from './seed-ledger.ts';

const TRIALS = 20;
const LEASE_TTL_MS = 1000;
const LANES = 4;
const DOWN_TARGET = '202508230001';

/** A seeded random source, so a failing trial can be replayed (the seed is printed). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Kill {
  lane: number;
  trial: number;
  direction: 'up' | 'down';
  at: number;
  run: ChildRun;
}

/**
 * One lane: its own scratch database; measures one uninterrupted upgrade and downgrade (the window the kills
 * are drawn from), then runs its trials: kill the upgrade, rerun it, check; kill the downgrade, rerun it, check.
 */
async function lane(index: number, trials: number, bundle: string, rand: () => number, seedValue: number): Promise<Kill[]> {
  const db = await createTestDatabase();
  try {
    const target = { url: db.url! };
    const fullUp = await runSeedChild(bundle, { target, direction: 'up', revision: 'head', leaseTtlMs: LEASE_TTL_MS });
    expect(fullUp.code, fullUp.stderr).toBe(0);
    const fullDown = await runSeedChild(bundle, { target, direction: 'down', revision: DOWN_TARGET, leaseTtlMs: LEASE_TTL_MS });
    expect(fullDown.code, fullDown.stderr).toBe(0);
    expect(await ledgerMismatches(db.client)).toEqual([]);

    const kills: Kill[] = [];
    for (let trial = 0; trial < trials; trial++) {
      // Act (up): kill the upgrade somewhere in its duration, then rerun it
      await resetSeed(db.client);
      const upAt = Math.round(rand() * fullUp.elapsedMs);
      const up = await runSeedChild(bundle, { target, direction: 'up', revision: 'head', leaseTtlMs: LEASE_TTL_MS, killAfterMs: upAt });
      kills.push({ lane: index, trial, direction: 'up', at: upAt, run: up });
      const upResult = await converge(db.client, 'up', 'head');

      // Assess (up)
      const context = `seed ${seedValue}, lane ${index}, trial ${trial}, up killed at ${upAt} ms after ${up.lastEvent ?? 'start'}`;
      expect(upResult.status, context).toBe('done');
      expect((await ledgerMismatches(db.client)).map((p) => `${p} (${context})`)).toEqual([]);
      expect(await currentRevisions(db), context).toEqual([seedHead]);

      // Act (down): kill the downgrade, then rerun it
      const downAt = Math.round(rand() * fullDown.elapsedMs);
      const down = await runSeedChild(bundle, { target, direction: 'down', revision: DOWN_TARGET, leaseTtlMs: LEASE_TTL_MS, killAfterMs: downAt });
      kills.push({ lane: index, trial, direction: 'down', at: downAt, run: down });
      const downResult = await converge(db.client, 'down', DOWN_TARGET);

      // Assess (down)
      const downContext = `seed ${seedValue}, lane ${index}, trial ${trial}, down killed at ${downAt} ms after ${down.lastEvent ?? 'start'}`;
      expect(downResult.status, downContext).toBe('done');
      expect((await ledgerMismatches(db.client)).map((p) => `${p} (${downContext})`)).toEqual([]);
      expect(await currentRevisions(db), downContext).toEqual([DOWN_TARGET]);
    }
    console.info(`lane ${index}: full up ${fullUp.elapsedMs} ms, full down ${fullDown.elapsedMs} ms`);
    return kills;
  } finally {
    await db.dispose();
  }
}

async function currentRevisions(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.client.query<{ revision: string }>(sql`
    SELECT revision FROM offpeak.applied_migrations a
    WHERE NOT EXISTS (SELECT 1 FROM offpeak.applied_migrations b WHERE b.applied_at > a.applied_at) ORDER BY revision`);
  return rows.map((r) => r.revision);
}

// SIGKILL needs a separate process talking to a server: PGlite lives inside the test process.
describe.skipIf(!testDatabaseUrl)('SIGKILL at a random moment of the seed upgrade and downgrade (PostgreSQL)', () => {
  let bundle: string;
  const seedValue = Number(process.env['OFFPEAK_CRASH_SEED'] ?? Date.now() % 100_000);

  beforeAll(async () => {
    bundle = await bundleSeedChild();
  });
  afterAll(() => {
    if (bundle) rmSync(bundle, { force: true });
  });

  it(`converges to head / ${DOWN_TARGET} after ${TRIALS} kills each way, with the ledger matching the schema`, async () => {
    // Act + Assess per trial: lanes on separate databases run side by side (the time goes to waiting, not CPU)
    const rand = random(seedValue);
    const perLane = Array.from({ length: LANES }, (_, i) => Math.floor(TRIALS / LANES) + (i < TRIALS % LANES ? 1 : 0));
    const kills = (await Promise.all(perLane.map((n, i) => lane(i, n, bundle, rand, seedValue)))).flat();

    // Assess: most kills landed mid-run (not before the child started or after it finished)
    const midRun = kills.filter((k) => k.run.killed && k.run.lastEvent !== undefined);
    console.info(
      `crash trials (seed ${seedValue}): ${midRun.length}/${kills.length} killed mid-run; last events: ` +
        kills.map((k) => `${k.direction}@${k.at}:${k.run.killed ? (k.run.lastEvent ?? 'before start') : 'finished'}`).join(', '),
    );
    expect(kills.filter((k) => k.direction === 'up')).toHaveLength(TRIALS);
    expect(kills.filter((k) => k.direction === 'down')).toHaveLength(TRIALS);
    expect(midRun.length).toBeGreaterThanOrEqual(kills.length / 2);
  }, 600_000);
});

import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../support/database.ts';
import { bundleSeedChild, crashLane, DOWN_TARGET, summarize } from './crash-child.ts';
import { seededRandom as random } from '../../../scripts/data-api/faults.ts';
import { lacks } from '../../support/prerequisites.ts';

const TRIALS = 20;
const LANES = 4;

// SIGKILL needs a separate process talking to a server: PGlite lives inside the test process.
describe.skipIf(lacks('postgresql'))('SIGKILL at a random moment of the seed upgrade and downgrade (PostgreSQL)', () => {
  let bundle: string;
  // A fixed seed, so a run is repeatable; set OFFPEAK_CRASH_SEED to explore others (every message names the seed).
  const seedValue = Number(process.env['OFFPEAK_CRASH_SEED'] ?? 20_261_203);

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
    const kills = (
      await Promise.all(
        perLane.map(async (n, i) => {
          const db = await createTestDatabase();
          try {
            return await crashLane({ index: i, trials: n, bundle, rand, seedValue, target: { url: db.url! }, direct: db.client, rerun: db.client });
          } finally {
            await db.dispose();
          }
        }),
      )
    ).flat();

    // Assess: most kills landed mid-run (not before the child started or after it finished)
    const midRun = summarize(kills, seedValue);
    expect(kills.filter((k) => k.direction === 'up')).toHaveLength(TRIALS);
    expect(kills.filter((k) => k.direction === 'down')).toHaveLength(TRIALS);
    expect(midRun).toBeGreaterThanOrEqual(kills.length / 2);
  }, 600_000);
});

import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataApiClient, createRdsDataSdkClient } from '../../../lambdas/core/db/data-api.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { bundleSeedChild, crashLane, summarize } from './crash-child.ts';
import { seededRandom as random } from '../../../scripts/data-api/faults.ts';

const TRIALS = 3;
const TRANSACTION_IDLE_TIMEOUT_MS = 2000;

/**
 * The crash trials through the local Data API server (1 s statement timeout, 2 s idle-transaction timeout):
 * the killed child's call goes on in the server (a statement it started keeps running, a transaction it
 * opened is rolled back only when idle), and the rerun goes through the Data API too. Runs on PGlite behind
 * the server by default and on PostgreSQL with TEST_DATABASE_URL. Fewer trials than the pg file: it shares
 * the path with it and costs more per trial.
 */
describe('SIGKILL at a random moment of the seed upgrade and downgrade, through the Data API server', () => {
  let api: TestDataApi;
  let bundle: string;
  // A fixed seed, so a run is repeatable; set OFFPEAK_CRASH_SEED to explore others (every message names the seed).
  const seedValue = Number(process.env['OFFPEAK_CRASH_SEED'] ?? 20_261_203);

  beforeAll(async () => {
    [api, bundle] = await Promise.all([startTestDataApi({ statementTimeoutMs: 1000, transactionIdleTimeoutMs: TRANSACTION_IDLE_TIMEOUT_MS }), bundleSeedChild()]);
  });
  afterAll(async () => {
    await api?.dispose();
    if (bundle) rmSync(bundle, { force: true });
  });

  it(`converges after ${TRIALS} kills each way, with the ledger matching the schema`, async () => {
    // Prepare
    const rerun = createDataApiClient({
      client: createRdsDataSdkClient({ endpoint: api.endpoint }),
      resourceArn: api.resourceArn,
      secretArn: api.secretArn,
      database: api.database,
      ownsClient: true,
    });
    const target = { dataApi: { endpoint: api.endpoint, resourceArn: api.resourceArn, secretArn: api.secretArn, database: api.database } };

    // Act + Assess per trial
    let kills;
    try {
      kills = await crashLane({
        index: 0,
        trials: TRIALS,
        bundle,
        rand: random(seedValue),
        seedValue,
        target,
        direct: api.db.client,
        rerun,
        // past the 2 s idle timeout: the rerun must not start while a killed child's transaction still holds locks
        leaseTtlMs: TRANSACTION_IDLE_TIMEOUT_MS + 500,
      });
    } finally {
      await rerun.close();
    }

    // Assess
    expect(kills).toHaveLength(2 * TRIALS);
    expect(summarize(kills, seedValue)).toBeGreaterThanOrEqual(TRIALS);
  }, 400_000);
});

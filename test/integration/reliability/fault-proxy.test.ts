import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataApiClient, createRdsDataSdkClient } from '../../../lambdas/core/db/data-api.ts';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import type { MigrationEvent } from '../../../lambdas/core/migrations/events.ts';
import { Lease } from '../../../lambdas/core/migrations/lease.ts';
import { createMigrator, type AdvanceResult } from '../../../lambdas/core/migrations/runner.ts';
import { catalogDump } from '../../support/catalog-dump.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { startFaultProxy, type FaultProxy, type FaultProxyOptions, type FaultStats } from '../../support/fault-proxy.ts';
import { ledgerMismatches, resetSeed, seed, seedHead } from './seed-ledger.ts';

/**
 * Faults absorbed inside a run (issue 17 item 3): the seed upgrade through the local Data API server behind
 * a proxy that answers a share of calls DatabaseResumingException before forwarding them, or forwards them
 * and loses the response (socket reset or a 500) after the statement ran.
 *
 * Figures are printed per seed: failed runs, requests, faults injected. FAULT_SEEDS=1,2,3 replays other seeds.
 */
const SEEDS = (process.env['FAULT_SEEDS'] ?? '20261202,7,424242').split(',').map(Number);
const RATE = Number(process.env['FAULT_RATE'] ?? 0.15);
const MAX_FAILED_RUNS = 2;

let api: TestDataApi;
let proxy: FaultProxy | undefined;

beforeAll(async () => {
  // A short idle timeout: a BeginTransaction whose response is lost leaves an orphan transaction, which on
  // the PGlite backend holds the one connection (every other call waits) until the server ends it.
  api = await startTestDataApi({ transactionIdleTimeoutMs: 3_000 });
});
afterAll(async () => {
  await proxy?.close();
  await api?.dispose();
});

async function behindProxy(options: Omit<FaultProxyOptions, 'target'>): Promise<SqlClient> {
  await proxy?.close();
  proxy = await startFaultProxy({ target: api.endpoint, ...options });
  // The client the CLI and the Lambdas use: one attempt per SDK call, offpeak's adapter deciding what to resend.
  return createDataApiClient({
    client: createRdsDataSdkClient({ endpoint: proxy.endpoint }),
    resourceArn: api.resourceArn,
    secretArn: api.secretArn,
    database: api.database,
    ownsClient: true,
    // The service keeps an idle transaction 3 minutes, longer than the whole 45 s retry budget, so waiting out
    // a resuming database never costs an open transaction. This server's idle timeout is 3 s (above), so one
    // backoff is capped at a third of it to keep that ratio under load; with the default 8 s cap a jittered 5th retry inside a
    // transaction outlived it about half the time and the unit was reconciled instead of waited out.
    retry: { maxDelayMs: 1_000 },
  });
}

interface Trial {
  failedRuns: number;
  results: Array<AdvanceResult | string>;
  events: MigrationEvent[];
  stats: FaultStats;
}

/** `upgrade head` as an operator would: a fresh migrator per run, rerun after a failed run, up to 8 runs. */
async function upgradeUntilDone(client: SqlClient): Promise<Trial> {
  const events: MigrationEvent[] = [];
  const results: Trial['results'] = [];
  let failedRuns = 0;
  for (let run = 1; run <= 8; run++) {
    const migrator = createMigrator({ client, migrations: seed, actor: `fault-trial#${run}`, onEvent: (e) => events.push(e) });
    try {
      const result = await migrator.runToCompletion('up', 'head');
      results.push(result);
      if (result.status === 'done') break;
      failedRuns++;
    } catch (error) {
      results.push(`${(error as Error).name}: ${(error as Error).message}`);
      failedRuns++;
    }
  }
  return { failedRuns, results, events, stats: proxy!.stats() };
}

/** Done events per (revision, direction, step) over every run: a migration applied twice shows as 2. */
async function doneTwice(client: SqlClient): Promise<string[]> {
  const { rows } = await client.query<{ key: string }>(sql`
    SELECT revision || ' ' || direction || ' step ' || step AS key FROM offpeak.migration_events
    WHERE status = 'done' GROUP BY revision, direction, step HAVING count(*) > 1`);
  return rows.map((r) => r.key);
}

async function leaseHolder(client: SqlClient) {
  return new Lease(client, { owner: 'observer' }).holder();
}

describe('the seed upgrade behind a 15 % fault proxy (half resuming, half lost responses after the statement ran)', () => {
  let clean: Awaited<ReturnType<typeof catalogDump>>;

  beforeAll(async () => {
    // The reference: the same upgrade without faults.
    const client = await behindProxy({ seed: 1, rate: 0 });
    const trial = await upgradeUntilDone(client);
    expect(trial.failedRuns).toBe(0);
    clean = await catalogDump(api.db.client);
    await client.close();
  }, 300_000);

  it.each(SEEDS)('seed %i converges to head with at most 2 failed runs, each migration applied once, the clean run\'s indexes', async (faultSeed) => {
    // Prepare
    await resetSeed(api.db.client);
    const client = await behindProxy({ seed: faultSeed, rate: RATE, resumingShare: 0.5 });

    // Act
    const trial = await upgradeUntilDone(client);
    await client.close();

    // Assess
    const reconciled = trial.events.filter((e) => e.event === 'fault_reconciled');
    console.log(
      `[fault trial] ${api.db.kind}: seed ${faultSeed}: ${trial.failedRuns} failed run(s), ${trial.stats.requests} requests, ` +
        `${trial.stats.resuming} answered resuming, ${trial.stats.lost} responses lost; ${reconciled.length} unit(s) reconciled from the ledger ` +
        `(${reconciled.filter((e) => e.event === 'fault_reconciled' && e.outcome === 'committed').length} had committed)` +
        (trial.failedRuns ? `; failures: ${trial.results.filter((r) => typeof r === 'string' || r.status !== 'done').map((r) => (typeof r === 'string' ? r : r.error?.message)).join(' | ')}` : ''),
    );
    const last = trial.results[trial.results.length - 1];
    expect(typeof last === 'string' ? last : last?.status).toBe('done');
    expect(trial.failedRuns).toBeLessThanOrEqual(MAX_FAILED_RUNS);
    expect(trial.stats.resuming + trial.stats.lost).toBeGreaterThan(0);
    expect(await ledgerMismatches(api.db.client)).toEqual([]);
    expect(await doneTwice(api.db.client)).toEqual([]);
    expect((await migratorCurrent(api.db.client))).toEqual([seedHead]);
    expect(await catalogDump(api.db.client)).toEqual(clean);
    expect(await leaseHolder(api.db.client)).toBeUndefined();
  }, 600_000);
});

async function migratorCurrent(client: SqlClient): Promise<string[]> {
  return createMigrator({ client, migrations: seed }).current();
}

describe('each kind of fault, one at a time', () => {
  /** The seed upgrade from scratch with exactly the faults `filter` picks (every picked call faulted). */
  async function upgradeWith(filter: FaultProxyOptions['filter'], kind: 'resuming' | 'lost'): Promise<Trial> {
    await resetSeed(api.db.client);
    const client = await behindProxy({ seed: 5, rate: 1, resumingShare: kind === 'resuming' ? 1 : 0, filter });
    const trial = await upgradeUntilDone(client);
    await client.close();
    expect(trial.failedRuns).toBe(0);
    expect(await ledgerMismatches(api.db.client)).toEqual([]);
    expect(await doneTwice(api.db.client)).toEqual([]);
    expect(await leaseHolder(api.db.client)).toBeUndefined();
    return trial;
  }
  const firstOnly = (match: (c: Parameters<NonNullable<FaultProxyOptions['filter']>>[0]) => boolean, times = 1) => {
    let seen = 0;
    return (c: Parameters<NonNullable<FaultProxyOptions['filter']>>[0]) => match(c) && ++seen <= times;
  };
  const reconciled = (t: Trial) => t.events.flatMap((e) => (e.event === 'fault_reconciled' ? [e.outcome] : []));

  it('a lost COMMIT is resolved by reading the ledger: the migration committed and is not run again', async () => {
    const trial = await upgradeWith(firstOnly((c) => c.operation === 'CommitTransaction'), 'lost');
    expect(trial.stats.lost).toBe(1);
    expect(reconciled(trial)).toEqual(['committed']);
  }, 300_000);

  it('a lost response inside a transaction rolls it back and runs the migration again', async () => {
    const trial = await upgradeWith(firstOnly((c) => c.operation === 'Execute' && c.inTransaction), 'lost');
    expect(trial.stats.lost).toBe(1);
    expect(reconciled(trial)).toEqual(['retrying']);
  }, 300_000);

  it('a lost index build is found in the catalog: journaled done without a second build', async () => {
    const builds: string[] = [];
    const trial = await upgradeWith(
      firstOnly((c) => {
        const build = c.sql?.startsWith('CREATE INDEX CONCURRENTLY') === true;
        if (build) builds.push(c.sql!);
        return build;
      }),
      'lost',
    );
    expect(trial.stats.lost).toBe(1);
    expect(reconciled(trial)).toEqual(['retrying']);
    expect(builds.length).toBeGreaterThan(1);
    expect(builds.filter((b, i) => builds.indexOf(b) !== i)).toEqual([]); // no build sent twice, the lost one included
  }, 300_000);

  it('lost responses to the lease release are resent: the lease is free when the run ends', async () => {
    const trial = await upgradeWith(firstOnly((c) => /^UPDATE \S*lease\S* SET expires_at = clock_timestamp\(\),/.test(c.sql ?? ''), 3), 'lost');
    expect(trial.stats.lost).toBe(3);
  }, 300_000);

  it('a unit that keeps losing its responses ends the call with OutcomeUnknownError, resumable where the ledger says', async () => {
    // Prepare: every statement inside a transaction loses its response
    await resetSeed(api.db.client);
    const client = await behindProxy({ seed: 5, rate: 1, resumingShare: 0, filter: (c) => c.operation === 'Execute' && c.inTransaction });
    const events: MigrationEvent[] = [];
    const migrator = createMigrator({ client, migrations: seed, retryBaseMs: 5, onEvent: (e) => events.push(e) });

    // Act
    const outcome = migrator.runToCompletion('up', 'head');

    // Assess: given up after 10 faults on one unit; the lease free, the run resumable, and a rerun converges
    await expect(outcome).rejects.toMatchObject({ name: 'OutcomeUnknownError', message: expect.stringMatching(/met 10 faults in a row/) });
    expect(events.filter((e) => e.event === 'fault_reconciled').map((e) => e.event === 'fault_reconciled' && e.outcome)).toEqual(Array(10).fill('retrying'));
    expect(await leaseHolder(api.db.client)).toBeUndefined();
    proxy!.setRate(0);
    const rerun = await createMigrator({ client, migrations: seed }).runToCompletion('up', 'head');
    await client.close();
    expect(rerun.status).toBe('done');
    expect(await ledgerMismatches(api.db.client)).toEqual([]);
    expect(await doneTwice(api.db.client)).toEqual([]);
  }, 300_000);

  it('a resuming database is waited out, whatever the call', async () => {
    const trial = await upgradeWith(firstOnly(() => true, 6), 'resuming');
    expect(trial.stats.resuming).toBe(6);
    expect(reconciled(trial)).toEqual([]);
  }, 300_000);
});

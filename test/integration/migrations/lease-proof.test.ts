import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgClient } from '../../../lambdas/core/db/pg.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { LeaseHeldError } from '../../../lambdas/core/errors.ts';
import { Lease, APP_PROOF_STALE_MS, uniqueApplicationName } from '../../../lambdas/core/migrations/lease.ts';
import { Ledger } from '../../../lambdas/core/migrations/ledger.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { uniqueName } from './helpers.ts';

/**
 * Crash recovery as soon as it is safe: a lease held by a run whose proof shows it gone is taken over at
 * once (and says from whom); a live holder's lease is not.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
}, 120_000);
afterAll(async () => {
  await db?.dispose();
});

/**
 * Acquires, retrying while refused: a closed connection's backend leaves pg_stat_activity a moment after the
 * client is gone (the server process exits on its own time). Gives up after 10 s, far below the 240 s lease.
 */
async function untilAcquired(lease: Lease) {
  const started = Date.now();
  for (;;) {
    try {
      return await lease.acquire();
    } catch (error) {
      if (!(error instanceof LeaseHeldError) || Date.now() - started > 10_000) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function ledgerSchema(client: TestDatabase['client']): Promise<string> {
  const schema = uniqueName('offpeak_lp');
  await new Ledger(client, schema).ensure();
  return schema;
}

describe('lease proofs', () => {
  it('pg: takes the lease over at once when no backend of the holder remains, not before', async (ctx) => {
    if (db.kind !== 'pg') ctx.skip();
    // Prepare: the holder's own client (its connections tagged offpeak:<hex>)
    const schema = await ledgerSchema(db.client);
    const holderClient = createPgClient({ connectionString: db.url!, max: 1 });
    const holder = new Lease(holderClient, { owner: 'holder', schema, ttlMs: 240_000 });
    const contender = new Lease(db.client, { owner: 'contender', schema, ttlMs: 240_000 });
    await holder.acquire();

    // Act
    const whileAlive = await contender.acquire().catch((e: unknown) => e);
    await holderClient.close(); // its sessions end, as a killed process's do
    const afterwards = await untilAcquired(contender);

    // Assess
    expect(whileAlive).toBeInstanceOf(LeaseHeldError);
    expect(afterwards).toMatchObject({ owner: 'contender', takenOverFrom: expect.stringMatching(/^holder \(backend offpeak:[0-9a-f]{16} gone\)$/) });
    const { rows } = await db.client.query<{ taken_over_from: string; proof_kind: string; proof_pid: number }>(
      sql`SELECT taken_over_from, proof_kind, proof_pid FROM ${sql.ident(schema, 'lease')}`,
    );
    expect(rows[0]).toMatchObject({ proof_kind: 'backend', taken_over_from: expect.stringContaining('holder') });
    expect(rows[0]!.proof_pid).toBeGreaterThan(0);
  });

  it('pg: a holder whose application_name is not unique (not offpeak:…) is waited out, never taken over', async (ctx) => {
    if (db.kind !== 'pg') ctx.skip();
    // Prepare
    const schema = await ledgerSchema(db.client);
    const holderClient = createPgClient({ connectionString: db.url!, max: 1, applicationName: 'someapp' });
    await new Lease(holderClient, { owner: 'holder', schema, ttlMs: 240_000 }).acquire();
    await holderClient.close();

    // Act
    const refused = await new Lease(db.client, { owner: 'contender', schema }).acquire().catch((e: unknown) => e);

    // Assess
    expect(refused).toBeInstanceOf(LeaseHeldError);
    expect((refused as LeaseHeldError).owner).toBe('holder');
  });

  it('PGlite: takes over a lease held by another process at once; one held in this process is waited out', async (ctx) => {
    if (db.kind !== 'pglite') ctx.skip();
    // Prepare: a lease recorded by a process that is gone (PGlite's directory lock admits one process)
    const schema = await ledgerSchema(db.client);
    await new Lease(db.client, { owner: 'dead', schema, ttlMs: 240_000, proof: { kind: 'process', id: 'process:1:gone' } }).acquire();

    // Act
    const taken = await new Lease(db.client, { owner: 'rerun', schema, ttlMs: 240_000 }).acquire();
    const sameProcess = await new Lease(db.client, { owner: 'other', schema }).acquire().catch((e: unknown) => e);

    // Assess
    expect(taken).toMatchObject({ owner: 'rerun', takenOverFrom: 'dead (process process:1:gone gone)' });
    expect(sameProcess).toBeInstanceOf(LeaseHeldError);
  });
});

describe('lease proofs through the Data API', () => {
  let api: TestDataApi;
  beforeAll(async () => {
    api = await startTestDataApi();
  }, 120_000);
  afterAll(async () => {
    await api?.dispose();
  });

  it('takes over once the heartbeat is stale and no transaction carries the holder’s application_name', async () => {
    // Prepare
    const client = api.adapter();
    const schema = await ledgerSchema(api.db.client);
    const id = uniqueApplicationName();
    const holder = new Lease(client, { owner: 'holder', schema, ttlMs: 240_000, proof: { kind: 'app', id } });
    const contender = new Lease(client, { owner: 'contender', schema, ttlMs: 240_000 });
    await holder.acquire();
    const age = sql`UPDATE ${sql.ident(schema, 'lease')} SET heartbeat_at = clock_timestamp() - ${`${APP_PROOF_STALE_MS + 1000} milliseconds`}::interval`;

    // Act
    const fresh = await contender.acquire().catch((e: unknown) => e);
    await api.db.client.query(age);
    const taken = await contender.acquire();

    // Assess
    expect(fresh).toBeInstanceOf(LeaseHeldError);
    expect(taken).toMatchObject({ owner: 'contender', takenOverFrom: `holder (app ${id} gone)` });
  });

  it('waits while a transaction of the holder is open, even with a stale heartbeat', async (ctx) => {
    if (api.db.kind !== 'pg') ctx.skip(); // on PGlite an open transaction holds the server's one connection
    // Prepare
    const client = api.adapter();
    const schema = await ledgerSchema(api.db.client);
    const id = uniqueApplicationName();
    await new Lease(client, { owner: 'holder', schema, ttlMs: 240_000, proof: { kind: 'app', id } }).acquire();
    await api.db.client.query(sql`UPDATE ${sql.ident(schema, 'lease')} SET heartbeat_at = clock_timestamp() - interval '1 hour'`);
    const contender = new Lease(client, { owner: 'contender', schema, ttlMs: 240_000 });

    // Act: the holder's transaction is open (idle in transaction, tagged) while the contender tries
    let during: unknown;
    await client.transaction(async (tx) => {
      await tx.query(sql`SELECT set_config('application_name', ${id}, true)`);
      during = await contender.acquire().catch((e: unknown) => e);
    });
    const after = await contender.acquire();

    // Assess
    expect(during).toBeInstanceOf(LeaseHeldError);
    expect(after).toMatchObject({ owner: 'contender', takenOverFrom: expect.stringContaining('holder') });
  });
});

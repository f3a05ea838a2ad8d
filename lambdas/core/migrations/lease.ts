/**
 * The migration lease: one row in `<ledger schema>.lease`, so only one run changes the schema at a time.
 *
 * Contract:
 * - `acquire()` takes or renews the lease with ONE conditional statement (INSERT … ON CONFLICT DO UPDATE
 *   … WHERE expired OR same owner … RETURNING). It works over the Data API, which keeps no session for
 *   an advisory lock. When another owner holds an unexpired lease it throws `LeaseHeldError` (one more
 *   read to say who holds it and until when).
 * - `renew()` (heartbeat) extends the lease only while this owner holds it unexpired; otherwise it throws
 *   `LeaseLostError` (it never re-takes a lease it released or let expire).
 * - `release()` expires the lease if this owner holds it.
 * - Every statement is idempotent (marked so): over the Data API a lost response is resent, so a lost
 *   release never leaves the lease held, and a lost acquire or renew that did run simply runs again.
 * - Expiry uses the database clock (now()), so client clock skew does not matter. A crashed run's
 *   lease simply expires after `ttlMs`; nothing needs manual unlocking.
 * The ledger schema must exist (Ledger.ensure).
 */
import type { SqlClient } from '../db/client.ts';
import { sql } from '../db/sql.ts';
import { LeaseHeldError, LeaseLostError } from '../errors.ts';
import { DEFAULT_LEDGER_SCHEMA } from './ledger.ts';

export interface LeaseOptions {
  owner: string;
  /** How long the lease lasts without a heartbeat. Default 120 s. */
  ttlMs?: number;
  schema?: string;
  /** Lease name; one per kind of exclusive work. Default 'migrations'. */
  name?: string;
}

export interface LeaseInfo {
  owner: string;
  expiresAt: Date;
}

/**
 * Longer than the Data API's 3-minute transaction idle timeout: a run killed mid-transaction leaves
 * that transaction (and its row and table locks) open on the service until it is rolled back, so the
 * next run must not take the lease before then, or its first statements wait on the orphan's locks.
 */
export const DEFAULT_LEASE_TTL_MS = 240_000;

export class Lease {
  readonly owner: string;
  readonly ttlMs: number;
  readonly name: string;
  private readonly schema: string;
  private readonly client: SqlClient;

  constructor(client: SqlClient, options: LeaseOptions) {
    this.client = client;
    this.owner = options.owner;
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.schema = options.schema ?? DEFAULT_LEDGER_SCHEMA;
    this.name = options.name ?? 'migrations';
  }

  private get table() {
    return sql.ident(this.schema, 'lease');
  }

  /** Takes the lease, or renews it when this owner already holds it. */
  async acquire(): Promise<LeaseInfo> {
    const ttl = `${Math.max(1, Math.round(this.ttlMs))} milliseconds`;
    for (let look = 1; ; look++) {
      const { rows } = await this.client.query<{ owner: string; expires_at: Date }>(
        sql`INSERT INTO ${this.table} AS l (name, owner, expires_at, heartbeat_at, acquired_at)
            VALUES (${this.name}, ${this.owner}, clock_timestamp() + ${ttl}::interval, clock_timestamp(), clock_timestamp())
            ON CONFLICT (name) DO UPDATE
              SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, heartbeat_at = EXCLUDED.heartbeat_at,
                  acquired_at = CASE WHEN l.owner = EXCLUDED.owner AND l.expires_at >= clock_timestamp() THEN l.acquired_at ELSE EXCLUDED.acquired_at END
              WHERE l.expires_at < clock_timestamp() OR l.owner = EXCLUDED.owner
            RETURNING owner, expires_at`.idempotent(),
      );
      const row = rows[0];
      if (row) return { owner: row.owner, expiresAt: row.expires_at };
      // Who holds it (expired or not: the holder may have released it between the two statements).
      const holder = await this.row();
      const free = !holder || holder.expiresAt.getTime() < holder.readAt.getTime();
      if (holder && (!free || look >= 5)) throw new LeaseHeldError(holder.owner, holder.expiresAt, { context: { lease: this.name } });
      // Released or expired in between: try again.
    }
  }

  /**
   * Heartbeat: extends the lease, only while this owner still holds it unexpired. It never takes the lease
   * back after a release or an expiry (another run may have started and finished meanwhile); then it throws
   * LeaseLostError, naming the holder when there is one.
   */
  async renew(): Promise<LeaseInfo> {
    const ttl = `${Math.max(1, Math.round(this.ttlMs))} milliseconds`;
    const { rows } = await this.client.query<{ owner: string; expires_at: Date }>(
      sql`UPDATE ${this.table} SET expires_at = clock_timestamp() + ${ttl}::interval, heartbeat_at = clock_timestamp()
          WHERE name = ${this.name} AND owner = ${this.owner} AND expires_at >= clock_timestamp()
          RETURNING owner, expires_at`.idempotent(),
    );
    const row = rows[0];
    if (row) return { owner: row.owner, expiresAt: row.expires_at };
    const holder = await this.holder();
    throw new LeaseLostError(
      this.owner,
      holder ? `the migration lease was lost: ${holder.owner} holds it until ${holder.expiresAt.toISOString()}` : 'the migration lease was lost: it expired before its heartbeat',
      { context: { lease: this.name, holder: holder?.owner ?? null } },
    );
  }

  async release(): Promise<void> {
    await this.client.query(
      sql`UPDATE ${this.table} SET expires_at = clock_timestamp() WHERE name = ${this.name} AND owner = ${this.owner}`.idempotent(),
    );
  }

  /** The lease row as it is, expired or not, with the database's clock at the read. */
  private async row(): Promise<(LeaseInfo & { readAt: Date }) | undefined> {
    const { rows } = await this.client.query<{ owner: string; expires_at: Date; read_at: Date }>(
      sql`SELECT owner, expires_at, clock_timestamp() AS read_at FROM ${this.table} WHERE name = ${this.name}`.idempotent(),
    );
    const row = rows[0];
    return row ? { owner: row.owner, expiresAt: row.expires_at, readAt: row.read_at } : undefined;
  }

  /** Who holds the lease now, if anyone (an expired lease counts as free). */
  async holder(): Promise<LeaseInfo | undefined> {
    const { rows } = await this.client.query<{ owner: string; expires_at: Date }>(
      sql`SELECT owner, expires_at FROM ${this.table} WHERE name = ${this.name} AND expires_at >= clock_timestamp()`.idempotent(),
    );
    const row = rows[0];
    return row ? { owner: row.owner, expiresAt: row.expires_at } : undefined;
  }
}

/**
 * The migration lease: one row in `<ledger schema>.lease`, so only one run changes the schema at a time.
 *
 * Contract:
 * - `acquire()` takes or renews the lease with ONE conditional statement (INSERT … ON CONFLICT DO UPDATE
 *   … WHERE expired OR same owner … RETURNING). It works over the Data API, which keeps no session for
 *   an advisory lock. When another owner holds an unexpired lease it throws `LeaseHeldError` (one more
 *   read to say who holds it and until when).
 * - `renew()` (heartbeat) extends the lease only while this owner holds it; otherwise it throws
 *   `LeaseLostError` (it never re-takes a lease it released or that another owner took).
 * - `release()` expires the lease if this owner holds it (and marks it released, heartbeat_at = -infinity, so a late renew cannot revive it).
 * - Every statement is idempotent (marked so): over the Data API a lost response is resent, so a lost
 *   release never leaves the lease held, and a lost acquire or renew that did run simply runs again.
 * - Expiry uses the database clock (now()), so client clock skew does not matter. A crashed run's
 *   lease expires after `ttlMs`; nothing needs manual unlocking.
 * - Crash recovery as soon as it is safe: the lease records how to prove its holder is alive (`proof_kind`,
 *   `proof_id`, and on pg the acquiring backend's pid and start). `acquire` takes a held lease over at once,
 *   in the same statement, when the proof shows the holder gone, and says so (`takenOverFrom`):
 *   - `backend` (pg): the holder's client tags every connection with a unique `application_name`
 *     (`offpeak:<hex>`, createPgClient's default); when no backend carries it, the holder's sessions, and so
 *     its transactions and locks, are gone.
 *   - `app` (Data API): the run sets its `application_name` with SET LOCAL in each transaction it opens (those
 *     are what can hold locks after a crash). Between transactions a live run has no tagged backend, so the
 *     lease is also taken over only once its heartbeat is older than `APP_PROOF_STALE_MS`.
 *   - `process` (PGlite): the holder's process. PGlite's directory lock admits one process at a time, so a
 *     PGlite run that finds a lease held by another process knows that process is gone.
 *   A proof that cannot be checked (an application_name that is not offpeak's, an unknown kind) is waited
 *   out as before.
 * The ledger schema must exist (Ledger.ensure).
 */
import { randomBytes } from 'node:crypto';
import type { SqlClient } from '../db/client.ts';
import { sql, type SqlQuery } from '../db/sql.ts';
import { LeaseHeldError, LeaseLostError } from '../errors.ts';
import { DEFAULT_LEDGER_SCHEMA } from './ledger.ts';

export interface LeaseOptions {
  owner: string;
  /** How long the lease lasts without a heartbeat. Default 120 s. */
  ttlMs?: number;
  schema?: string;
  /** Lease name; one per kind of exclusive work. Default 'migrations'. */
  name?: string;
  /** How a contender can tell this holder is gone. Default: from the client's dialect (`leaseProof`). */
  proof?: LeaseProof;
}

export type LeaseProof =
  /** pg: the backends tagged with the connection's application_name (read by the acquiring statement). */
  | { kind: 'backend' }
  /** Data API: this application_name, set with SET LOCAL in each transaction the run opens, plus the heartbeat. */
  | { kind: 'app'; id: string }
  /** PGlite: this process. */
  | { kind: 'process'; id: string };

/** One id per process: a PGlite lease held under another id belongs to a process that has exited. */
export const PROCESS_PROOF_ID = `process:${process.pid}:${randomBytes(6).toString('hex')}`;

/** A unique application_name for a client's connections or a run's transactions: what the lease proofs look for. */
export const uniqueApplicationName = () => `offpeak:${randomBytes(8).toString('hex')}`;

/** The default proof for a client's dialect. */
export function leaseProof(client: Pick<SqlClient, 'dialect'>): LeaseProof {
  if (client.dialect === 'pg') return { kind: 'backend' };
  if (client.dialect === 'pglite') return { kind: 'process', id: PROCESS_PROOF_ID };
  return { kind: 'app', id: uniqueApplicationName() };
}

/**
 * Through the Data API a holder proves it is alive by its heartbeat (LeaseKeeper beats every few seconds):
 * its lease is taken over only once the heartbeat is this old and no backend carries its application_name.
 */
export const APP_PROOF_STALE_MS = 15_000;

export interface LeaseInfo {
  owner: string;
  expiresAt: Date;
  /** Set when this acquire took the lease over from a holder proven gone: who, and by what proof. */
  takenOverFrom?: string;
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
  readonly proof: LeaseProof;
  private readonly schema: string;
  private readonly client: SqlClient;

  constructor(client: SqlClient, options: LeaseOptions) {
    this.client = client;
    this.proof = options.proof ?? leaseProof(client);
    this.owner = options.owner;
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.schema = options.schema ?? DEFAULT_LEDGER_SCHEMA;
    this.name = options.name ?? 'migrations';
  }

  private get table() {
    return sql.ident(this.schema, 'lease');
  }

  /** The proof columns' values for this holder, as the acquiring statement writes them. */
  private proofValues(): SqlQuery {
    const p = this.proof;
    if (p.kind === 'backend') {
      return sql`'backend', current_setting('application_name'), pg_backend_pid(),
        (SELECT a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid())`;
    }
    return sql`${p.kind}::text, ${p.id}::text, NULL::integer, NULL::timestamptz`;
  }

  /** True (in SQL, over the lease row `l`) when the row's proof shows its holder gone. */
  private holderGone(): SqlQuery {
    const untagged = sql`NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = l.proof_id)`;
    const stale = `${APP_PROOF_STALE_MS} milliseconds`;
    const processGone = this.proof.kind === 'process' ? sql`(l.proof_kind = 'process' AND l.proof_id <> ${this.proof.id})` : sql`false`;
    return sql`((l.proof_kind = 'backend' AND l.proof_id LIKE 'offpeak:%' AND ${untagged})
      OR (l.proof_kind = 'app' AND l.proof_id LIKE 'offpeak:%' AND l.heartbeat_at < clock_timestamp() - ${stale}::interval AND ${untagged})
      OR ${processGone})`;
  }

  /**
   * Takes the lease, or renews it when this owner already holds it; takes it over at once from a holder
   * whose proof shows it gone (`takenOverFrom` says so).
   */
  async acquire(): Promise<LeaseInfo> {
    const ttl = `${Math.max(1, Math.round(this.ttlMs))} milliseconds`;
    const live = sql`l.expires_at >= clock_timestamp() AND l.owner <> EXCLUDED.owner`;
    for (let look = 1; ; look++) {
      const { rows } = await this.client.query<{ owner: string; expires_at: Date; taken_over_from: string | null }>(
        sql`INSERT INTO ${this.table} AS l (name, owner, expires_at, heartbeat_at, acquired_at, proof_kind, proof_id, proof_pid, proof_backend_start)
            SELECT ${this.name}, ${this.owner}, clock_timestamp() + ${ttl}::interval, clock_timestamp(), clock_timestamp(), ${this.proofValues()}
            ON CONFLICT (name) DO UPDATE
              SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, heartbeat_at = EXCLUDED.heartbeat_at,
                  acquired_at = CASE WHEN l.owner = EXCLUDED.owner AND l.expires_at >= clock_timestamp() THEN l.acquired_at ELSE EXCLUDED.acquired_at END,
                  proof_kind = EXCLUDED.proof_kind, proof_id = EXCLUDED.proof_id, proof_pid = EXCLUDED.proof_pid,
                  proof_backend_start = EXCLUDED.proof_backend_start,
                  taken_over_from = CASE WHEN ${live} THEN l.owner || ' (' || l.proof_kind || ' ' || l.proof_id || ' gone)' END
              WHERE l.expires_at < clock_timestamp() OR l.owner = EXCLUDED.owner OR ${this.holderGone()}
            RETURNING owner, expires_at, taken_over_from`.idempotent(),
      );
      const row = rows[0];
      if (row) return { owner: row.owner, expiresAt: row.expires_at, ...(row.taken_over_from ? { takenOverFrom: row.taken_over_from } : {}) };
      // Who holds it (expired or not: the holder may have released it between the two statements).
      const holder = await this.row();
      const free = !holder || holder.expiresAt.getTime() < holder.readAt.getTime();
      if (holder && (!free || look >= 5)) throw new LeaseHeldError(holder.owner, holder.expiresAt, { context: { lease: this.name } });
      // Released or expired in between: try again.
    }
  }

  /**
   * Heartbeat: extends the lease only while this owner still holds it. It never takes the lease back after
   * this owner released it, or after another owner took it (and perhaps released it again); then it throws
   * LeaseLostError, naming the holder when there is one. A lease that expired while a heartbeat was late
   * (a busy server) and that nobody took meanwhile is still this owner's: nobody ran in between.
   */
  async renew(): Promise<LeaseInfo> {
    const ttl = `${Math.max(1, Math.round(this.ttlMs))} milliseconds`;
    const { rows } = await this.client.query<{ owner: string; expires_at: Date }>(
      sql`UPDATE ${this.table} SET expires_at = clock_timestamp() + ${ttl}::interval, heartbeat_at = clock_timestamp()
          WHERE name = ${this.name} AND owner = ${this.owner} AND heartbeat_at <> '-infinity'
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
      sql`UPDATE ${this.table} SET expires_at = clock_timestamp(), heartbeat_at = '-infinity' WHERE name = ${this.name} AND owner = ${this.owner}`.idempotent(),
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

/**
 * The lease keeper: holds the migration lease (lease.ts) around a write, renewing it on a timer.
 *
 * - `hold(fn)` ensures the ledger, acquires the lease (LeaseHeldError, with the real holder, when another
 *   run has it; a takeover from a holder proven gone is reported as `lease_taken_over`), runs `fn`, and releases the lease on every path, success or error.
 * - Heartbeats run every ttl/3, at most 5 s (not on PGlite: one connection, and one process by construction). A failed
 *   heartbeat is reported (`lease_heartbeat_failed`) and retried at the next tick. The lease counts as lost
 *   when a heartbeat finds it expired or taken (LeaseLostError from `renew`), or when heartbeats have failed
 *   for a whole TTL (LeaseLostError with the last failure as its cause). `check()` throws that error; the
 *   runner calls it before each unit, so a run that lost its lease stops before its next statement.
 * - Release waits for a heartbeat in flight (so it cannot extend the lease after the release), then
 *   expires the lease, retrying a few times: releasing is idempotent. A release that still fails is
 *   reported (`lease_release_failed`), never thrown over the write's own outcome; the lease then expires.
 */
import { LeaseLostError } from '../errors.ts';
import { Lease } from './lease.ts';
import type { RunContext } from './run-context.ts';
import { errorText } from './standalone.ts';

/** What `fn` gets while the lease is held. */
export interface HeldLease {
  /** Throws the LeaseLostError when the lease was lost; otherwise returns. */
  check(): void;
}

const RELEASE_ATTEMPTS = 4;

/**
 * A third of the TTL, and at most 5 s: through the Data API a fresh heartbeat is what proves the holder alive
 * between its transactions (APP_PROOF_STALE_MS is three beats), and on pg it keeps one of the holder's
 * tagged connections from idling out of the pool.
 */
export const heartbeatIntervalMs = (ttlMs: number) => Math.max(200, Math.min(5000, ttlMs / 3));

export class LeaseKeeper {
  readonly lease: Lease;
  private readonly rc: RunContext;

  constructor(rc: RunContext, lease: Lease) {
    this.rc = rc;
    this.lease = lease;
  }

  async hold<T>(fn: (held: HeldLease) => Promise<T>): Promise<T> {
    const { rc, lease } = this;
    await rc.ledger.ensure();
    const info = await lease.acquire();
    if (info.takenOverFrom) rc.emit({ event: 'lease_taken_over', owner: lease.owner, from: info.takenOverFrom });
    rc.emit({ event: 'lease_acquired', owner: lease.owner, expiresAt: info.expiresAt });

    let lost: LeaseLostError | undefined;
    let lastRenewed = rc.nowMs();
    let inFlight: Promise<void> | undefined;
    const beat = async () => {
      try {
        await lease.renew();
        lastRenewed = rc.nowMs();
      } catch (error) {
        rc.emit({ event: 'lease_heartbeat_failed', owner: lease.owner, error: errorText(error) });
        if (error instanceof LeaseLostError) lost ??= error;
        else if (rc.nowMs() - lastRenewed >= lease.ttlMs) {
          lost ??= new LeaseLostError(lease.owner, `the migration lease was lost: its heartbeats failed for ${lease.ttlMs} ms`, { cause: error });
        }
      }
    };
    let timer: ReturnType<typeof setInterval> | undefined;
    if (rc.client.dialect !== 'pglite') {
      timer = setInterval(() => {
        if (inFlight || lost) return;
        inFlight = beat().finally(() => (inFlight = undefined));
      }, heartbeatIntervalMs(lease.ttlMs));
      timer.unref?.();
    }
    try {
      return await fn({
        check: () => {
          if (lost) throw lost;
        },
      });
    } finally {
      if (timer) clearInterval(timer);
      await inFlight;
      await this.release();
    }
  }

  /** Expires the lease if this owner holds it, with retries; reports a release that keeps failing. */
  private async release(): Promise<void> {
    const { rc, lease } = this;
    for (let attempt = 1; ; attempt++) {
      try {
        await lease.release();
        return;
      } catch (error) {
        if (attempt >= RELEASE_ATTEMPTS) {
          rc.emit({ event: 'lease_release_failed', owner: lease.owner, error: errorText(error) });
          return;
        }
        await rc.sleep(Math.round(rc.backoff(attempt)));
      }
    }
  }
}

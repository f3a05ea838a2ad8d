import { mkdirSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { createPgliteClient, openPglite } from '../../lambdas/core/db/pglite.ts';
import { acquirePgliteLock, type LockHolder } from '../../lambdas/core/db/pglite-lock.ts';

export interface PgliteTargetOptions {
  dataDir: string;
  /** Wait for another process holding the directory instead of failing with DatabaseLockedError. */
  waitForLock: boolean;
  /** Told once when waiting starts, e.g. to print who holds the lock. */
  onWait?: (holder: LockHolder) => void;
}

function defaultOnWait(holder: LockHolder): void {
  process.stderr.write(`waiting for the embedded database: held by pid ${holder.pid} on ${holder.host} (${holder.command}) since ${holder.since}\n`);
}

/**
 * Opens PGlite on a data directory after taking its lock, so a second process
 * never opens it at the same time. Used by every on-disk PGlite opener (CLI,
 * local Data API server); `release` must be called after `db.close()`.
 */
export async function openLockedPglite(options: PgliteTargetOptions): Promise<{ db: PGlite; release: () => void }> {
  mkdirSync(options.dataDir, { recursive: true });
  const lock = await acquirePgliteLock(options.dataDir, { wait: options.waitForLock, onWait: options.onWait ?? defaultOnWait });
  try {
    const db = await openPglite({ dataDir: options.dataDir });
    return { db, release: () => lock.release() };
  } catch (error) {
    lock.release();
    throw error;
  }
}

export async function openPgliteClient(target: PgliteTargetOptions): Promise<SqlClient> {
  const { db, release } = await openLockedPglite(target);
  return createPgliteClient(db, async () => release());
}

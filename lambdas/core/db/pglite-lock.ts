import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { DatabaseLockedError } from '../errors.ts';

/**
 * An exclusive lock on a PGlite data directory. PGlite is PostgreSQL in one
 * process without postmaster's interlock, so two processes on one directory
 * would corrupt it. The lock is a file beside the directory (`<dir>.lock`, not
 * inside it: initdb wants the directory to itself), created atomically with its
 * content via link(2), naming the holder.
 */

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Distinguishes one holding from another with the same pid (pid reuse, re-acquire). */
  token: string;
}

export interface PgliteLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock if this holding still owns it. Idempotent. */
  release(): void;
}

export interface AcquireLockOptions {
  /** Wait for the holder to finish instead of failing. */
  wait?: boolean;
  /** With wait: give up after this long (default: never). */
  waitTimeoutMs?: number;
  pollMs?: number;
  /** With wait: called once, when the first attempt finds the lock held. */
  onWait?: (holder: LockHolder) => void;
  /** What to record as the holder's command (default: this process's argv). */
  command?: string;
}

export function lockPathFor(dataDir: string): string {
  return `${resolve(dataDir)}.lock`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The holder recorded in `path`; undefined if there is no file; 'unreadable' if it is not a lock we wrote. */
function readHolder(path: string): LockHolder | 'unreadable' | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string' || typeof parsed.token !== 'string') return 'unreadable';
    return { pid: parsed.pid, host: parsed.host, command: String(parsed.command ?? '?'), since: String(parsed.since ?? '?'), token: parsed.token };
  } catch {
    return 'unreadable';
  }
}

function tokenOf(path: string): string | undefined {
  const holder = readHolder(path);
  return typeof holder === 'object' ? holder.token : undefined;
}

/** A holder is provably gone only when it ran on this host and its pid no longer exists. */
function isStale(holder: LockHolder): boolean {
  return holder.host === hostname() && !isAlive(holder.pid);
}

/** Creates `path` holding `holder` atomically: it never exists half-written. Returns false if it already exists. */
function createExclusive(path: string, holder: LockHolder): boolean {
  const temp = `${path}.${holder.token}.tmp`;
  writeFileSync(temp, `${JSON.stringify(holder)}\n`, { flush: true });
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temp);
  }
}

function removeIfOwned(path: string, token: string): void {
  if (tokenOf(path) === token) unlinkQuietly(path);
}

const BREAKER_STALE_MS = 10_000;

/**
 * Removes a stale lock, but only the exact holding that was judged stale: two
 * processes breaking it at once must not remove the fresh lock one of them just took.
 * A short-lived second lock (`.break`) serialises the check-and-remove.
 */
function breakStaleLock(path: string, stale: LockHolder, me: LockHolder): void {
  const breaker = `${path}.break`;
  if (!createExclusive(breaker, me)) {
    // Someone else is breaking it; clear their breaker only if they died doing so.
    const other = readHolder(breaker);
    let age: number;
    try {
      age = Date.now() - statSync(breaker).mtimeMs;
    } catch {
      return;
    }
    if (typeof other === 'object' && isStale(other)) removeIfOwned(breaker, other.token);
    else if (age > BREAKER_STALE_MS) unlinkQuietly(breaker);
    return; // the caller retries from the top
  }
  try {
    if (tokenOf(path) === stale.token) unlinkSync(path);
  } finally {
    removeIfOwned(breaker, me.token);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // raced with another cleaner
  }
}

function lockedError(dataDir: string, path: string, holder: LockHolder, waited: boolean): DatabaseLockedError {
  const what = `the embedded database ${resolve(dataDir)} is in use by pid ${holder.pid} on ${holder.host} (${holder.command}) since ${holder.since}`;
  const todo = waited
    ? 'gave up waiting for it'
    : 'wait for that process to finish, or pass --wait-for-lock to wait for it';
  const remote = holder.host === hostname() ? '' : `; if that process is gone, delete ${path}`;
  return new DatabaseLockedError(`${what}: ${todo}${remote}`, { context: { dataDir: resolve(dataDir), lockPath: path, ...holder } });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes the lock on `dataDir`, or throws DatabaseLockedError naming the holder (or waits, if asked). */
export async function acquirePgliteLock(dataDir: string, options: AcquireLockOptions = {}): Promise<PgliteLock> {
  const path = lockPathFor(dataDir);
  mkdirSync(dirname(path), { recursive: true });
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    command: options.command ?? process.argv.slice(1).join(' '),
    since: new Date().toISOString(),
    token: randomUUID(),
  };
  const started = Date.now();
  let told = false;

  for (;;) {
    if (createExclusive(path, me)) break;
    const holder = readHolder(path);
    if (holder === undefined) continue; // released between our two looks
    if (holder === 'unreadable') {
      throw new DatabaseLockedError(
        `the lock file ${path} is not one offpeak wrote; if no offpeak process uses ${resolve(dataDir)}, delete it`,
        { context: { dataDir: resolve(dataDir), lockPath: path } },
      );
    }
    if (isStale(holder)) {
      breakStaleLock(path, holder, me);
      await sleep(5);
      continue;
    }
    if (!options.wait) throw lockedError(dataDir, path, holder, false);
    if (options.waitTimeoutMs !== undefined && Date.now() - started >= options.waitTimeoutMs) {
      throw lockedError(dataDir, path, holder, true);
    }
    if (!told) {
      told = true;
      options.onWait?.(holder);
    }
    await sleep(options.pollMs ?? 200);
  }

  // A process that exits without close() still frees the lock; a killed one leaves it stale, which the next taker detects.
  const onExit = () => removeIfOwned(path, me.token);
  process.once('exit', onExit);
  let held = true;
  return {
    path,
    holder: me,
    release() {
      if (!held) return;
      held = false;
      process.removeListener('exit', onExit);
      removeIfOwned(path, me.token);
    },
  };
}

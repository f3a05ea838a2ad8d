import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { acquirePgliteLock, lockPathFor } from '../../lambdas/core/db/pglite-lock.ts';
import { DatabaseLockedError } from '../../lambdas/core/errors.ts';

const root = mkdtempSync(join(tmpdir(), 'offpeak-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `db${++n}`);

interface Holder {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the next JSON event the child prints. */
  next(): Promise<{ event: string; pid?: number }>;
}

/** Another real process taking the lock, through the same code the CLI uses. */
function spawnHolder(dataDir: string, ...flags: string[]): Holder {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/hold-pglite-lock.ts', dataDir, ...flags], {
    stdio: 'pipe',
  });
  const events: { event: string; pid?: number }[] = [];
  const waiters: ((e: { event: string; pid?: number }) => void)[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = JSON.parse(line) as { event: string; pid?: number };
    const waiter = waiters.shift();
    if (waiter) waiter(event);
    else events.push(event);
  });
  child.on('exit', (code) => {
    for (const w of waiters.splice(0)) w({ event: `exit ${code}: ${stderr}` });
  });
  return {
    child,
    next: () => {
      const queued = events.shift();
      return queued ? Promise.resolve(queued) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

function exited(child: ChildProcessWithoutNullStreams): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A pid that certainly belonged to a process that is now gone. */
function deadPid(): number {
  const done = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(done.stdout.trim());
}

describe('PGlite data-directory lock', () => {
  it('refuses a second process with an error naming the holder', async () => {
    // Prepare
    const dir = freshDir();
    const holder = spawnHolder(dir);
    const locked = await holder.next();

    // Act
    const attempt = acquirePgliteLock(dir);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(DatabaseLockedError);
    await expect(attempt).rejects.toThrow(new RegExp(`pid ${locked.pid} on ${hostname()} \\(hold-pglite-lock\\) since \\d{4}-`));
    await expect(attempt).rejects.toThrow(/--wait-for-lock/);
    holder.child.stdin.end('release\n');
    await exited(holder.child);
    expect(existsSync(lockPathFor(dir))).toBe(false);
  });

  it('waits for the holder when asked, then takes the lock', async () => {
    // Prepare
    const dir = freshDir();
    const holder = spawnHolder(dir);
    expect((await holder.next()).event).toBe('locked');
    let waitedFor: number | undefined;

    // Act
    const pending = acquirePgliteLock(dir, { wait: true, pollMs: 20, onWait: (h) => (waitedFor = h.pid) });
    await new Promise((r) => setTimeout(r, 100));
    holder.child.stdin.end('release\n');
    const lock = await pending;

    // Assess
    expect(waitedFor).toBe(holder.child.pid);
    expect(lock.holder.pid).toBe(process.pid);
    lock.release();
    await exited(holder.child);
  });

  it('takes over a lock left by a killed process', async () => {
    // Prepare
    const dir = freshDir();
    const holder = spawnHolder(dir);
    expect((await holder.next()).event).toBe('locked');
    holder.child.kill('SIGKILL');
    await exited(holder.child);
    expect(existsSync(lockPathFor(dir))).toBe(true);

    // Act
    const lock = await acquirePgliteLock(dir);

    // Assess
    expect(lock.holder.pid).toBe(process.pid);
    lock.release();
  });

  it('lets exactly one of two racing processes take over a stale lock', async () => {
    // Prepare: a lock from a process that no longer exists
    const dir = freshDir();
    const stale = { pid: deadPid(), host: hostname(), command: 'gone', since: new Date(0).toISOString(), token: 'stale' };
    writeFileSync(lockPathFor(dir), JSON.stringify(stale));

    // Act
    const a = spawnHolder(dir, '--wait');
    const b = spawnHolder(dir, '--wait');
    const [first, second] = await Promise.all([a.next(), b.next()]);

    // Assess: one holds, the other waits for it
    expect([first.event, second.event].sort()).toEqual(['locked', 'waiting']);
    const [winner, loser] = first.event === 'locked' ? [a, b] : [b, a];
    winner.child.stdin.end('release\n');
    expect((await loser.next()).event).toBe('locked');
    loser.child.stdin.end('release\n');
    await Promise.all([exited(a.child), exited(b.child)]);
  });

  it('makes the CLI opener refuse a held directory before PGlite touches it', async () => {
    // Prepare: this process holds the directory (opening PGlite on disk costs tens of seconds on a busy CI box)
    const dir = freshDir();
    const lock = await acquirePgliteLock(dir, { command: 'lock test' });

    // Act: another process opens it through the CLI's opener
    const other = spawnHolder(dir, '--pglite');
    const outcome = (await other.next()) as { event: string; message?: string };

    // Assess
    expect(outcome.event).toBe('refused');
    expect(outcome.message).toContain(`pid ${process.pid} on ${hostname()} (lock test)`);
    await exited(other.child);
    expect(readdirSync(dir)).toEqual([]);
    lock.release();
    expect(existsSync(lockPathFor(dir))).toBe(false);
  });
});

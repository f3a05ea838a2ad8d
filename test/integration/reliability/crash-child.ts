import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { expect } from 'vitest';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { DatabaseUnavailableError, LeaseHeldError } from '../../../lambdas/core/errors.ts';
import type { Direction } from '../../../lambdas/core/migrations/ledger.ts';
import { createMigrator, type AdvanceResult } from '../../../lambdas/core/migrations/runner.ts';
import { repoRoot } from '../../support/cli.ts';
import { ledgerMismatches, resetSeed, seed, seedHead } from './seed-ledger.ts';

export const DEFAULT_CHILD_LEASE_TTL_MS = 1000;
export const DOWN_TARGET = '202508230001';
/**
 * A kill lands right after a seeded-random runner event of the measured run, then a seeded 0-19 ms
 * later (so it also lands inside statements), never on a clock share of a measured duration: under
 * load a run's duration varies by seconds, its events do not. Never after the last event (the run
 * would finish first) nor before the first (the child would still be starting).
 */
const killPoint = (rand: () => number, events: number) => ({ afterEvents: 1 + Math.floor(rand() * Math.max(1, events - 1)), delayMs: Math.floor(rand() * 20) });

export type ChildTarget = { url: string } | { pgliteDir: string } | { dataApi: { endpoint: string; resourceArn: string; secretArn: string; database: string } };

export interface ChildRun {
  /** True when the child was killed before it finished. */
  killed: boolean;
  /** The child's last runner event before it ended (where it was killed). */
  lastEvent: string | undefined;
  /** ms from the child's first line (ready) to its end (for the log only). */
  elapsedMs: number;
  /** Runner events the child wrote before it ended. */
  events: number;
  code: number | null;
  stderr: string;
}

/** Bundles seed-child.ts once (packages stay external, resolved from the repo), so each start skips TS compilation. */
export async function bundleSeedChild(): Promise<string> {
  const dir = join(repoRoot, '.offpeak', 'test');
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, `seed-child-${process.pid}.mjs`);
  await build({
    entryPoints: [join(repoRoot, 'test/integration/reliability/seed-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // The migrations import the package by its name ('offpeak'): bundle that one from source, as Node cannot load .ts.
    alias: { offpeak: join(repoRoot, 'lambdas/core/migrations/public.ts') },
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

/**
 * Runs the bundled child (direction, target) and, when `kill` is given, SIGKILLs it `delayMs` after its
 * `afterEvents`-th runner event (unless it finished first).
 */
export function runSeedChild(
  bundle: string,
  input: { target: ChildTarget; direction: Direction; revision: string; leaseTtlMs: number; kill?: { afterEvents: number; delayMs: number } },
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const args = JSON.stringify({ ...input.target, direction: input.direction, target: input.revision, leaseTtlMs: input.leaseTtlMs });
    const child = spawn(process.execPath, [bundle, args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffer = '';
    let stderr = '';
    let readyAt: number | undefined;
    let lastEvent: string | undefined;
    let killed = false;
    let events = 0;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += String(chunk);
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as { event: string; revision?: string; step?: number };
        buffer = buffer.slice(nl + 1);
        if (line.event === 'child_ready') {
          readyAt = Date.now();
        } else if (line.event !== 'child_result') {
          lastEvent = `${line.event}${line.revision ? ` ${line.revision}` : ''}${line.step !== undefined ? `#${line.step}` : ''}`;
          events++;
          if (input.kill && events === input.kill.afterEvents) {
            timer = setTimeout(() => {
              killed = child.kill('SIGKILL');
            }, input.kill.delayMs);
          }
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ killed, lastEvent, elapsedMs: readyAt === undefined ? 0 : Date.now() - readyAt, events, code, stderr });
    });
  });
}

/** What an operator does after a crash: run the same command again, waiting out the dead run's lease. */
export async function converge(client: SqlClient, direction: Direction, target: string): Promise<AdvanceResult> {
  const migrator = createMigrator({ client, migrations: seed, actor: 'rerun', pollIntervalMs: 50, retryBaseMs: 20, deadlineMarginMs: 0 });
  for (let attempt = 0; ; attempt++) {
    try {
      return await migrator.runToCompletion(direction, target);
    } catch (error) {
      // Through the Data API server over PGlite, the dead run's open transaction holds the one connection
      // until the server's idle timeout rolls it back; meanwhile calls are refused (DatabaseUnavailableException).
      if (error instanceof DatabaseUnavailableError && attempt <= 100) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (!(error instanceof LeaseHeldError) || attempt > 20) throw error;
      await new Promise((r) => setTimeout(r, Math.max(50, error.expiresAt.getTime() - Date.now() + 50)));
    }
  }
}

export interface Kill {
  lane: number;
  trial: number;
  direction: 'up' | 'down';
  /** Where the kill was aimed: after this many runner events, plus a delay. */
  at: { afterEvents: number; delayMs: number };
  run: ChildRun;
}

/**
 * One lane, on its own database: counts the runner events of an uninterrupted upgrade and downgrade (the
 * kills are drawn among them), then runs its trials: kill the upgrade, rerun it, check; kill the downgrade, rerun it, check.
 */
export async function crashLane(lane: {
  index: number;
  trials: number;
  bundle: string;
  rand: () => number;
  seedValue: number;
  /** Where the child connects. */
  target: ChildTarget;
  /** For checks and resets, straight to the database. */
  direct: SqlClient;
  /** What the rerun goes through (the same path as the child). */
  rerun: SqlClient;
  /**
   * The children's lease TTL. Through the Data API it must outlast the server's transaction idle
   * timeout, as the default does on AWS: a killed child's open transaction keeps its locks until then.
   */
  leaseTtlMs?: number;
}): Promise<Kill[]> {
  const { index, trials, bundle, rand, seedValue, target, direct, rerun } = lane;
  const leaseTtlMs = lane.leaseTtlMs ?? DEFAULT_CHILD_LEASE_TTL_MS;
  const measure = async () => {
    const up = await runSeedChild(bundle, { target, direction: 'up', revision: 'head', leaseTtlMs });
    expect(up.code, up.stderr).toBe(0);
    const down = await runSeedChild(bundle, { target, direction: 'down', revision: DOWN_TARGET, leaseTtlMs });
    expect(down.code, down.stderr).toBe(0);
    expect(await ledgerMismatches(direct)).toEqual([]);
    return { up, down };
  };
  const full = await measure();
  const fullUp = full.up;
  const fullDown = full.down;

  const kills: Kill[] = [];
  for (let trial = 0; trial < trials; trial++) {
    // Act (up): kill the upgrade somewhere in its duration, then rerun it
    await resetSeed(direct);
    const upAt = killPoint(rand, fullUp.events);
    const up = await runSeedChild(bundle, { target, direction: 'up', revision: 'head', leaseTtlMs, kill: upAt });
    kills.push({ lane: index, trial, direction: 'up', at: upAt, run: up });
    const upResult = await converge(rerun, 'up', 'head');

    // Assess (up)
    const context = `seed ${seedValue}, lane ${index}, trial ${trial}, up killed ${upAt.delayMs} ms after event ${upAt.afterEvents} (last seen: ${up.lastEvent ?? 'none'})`;
    expect(upResult.status, context).toBe('done');
    expect((await ledgerMismatches(direct)).map((p) => `${p} (${context})`)).toEqual([]);
    expect(await currentRevisions(direct), context).toEqual([seedHead]);

    // Act (down): kill the downgrade, then rerun it
    const downAt = killPoint(rand, fullDown.events);
    const down = await runSeedChild(bundle, { target, direction: 'down', revision: DOWN_TARGET, leaseTtlMs, kill: downAt });
    kills.push({ lane: index, trial, direction: 'down', at: downAt, run: down });
    const downResult = await converge(rerun, 'down', DOWN_TARGET);

    // Assess (down)
    const downContext = `seed ${seedValue}, lane ${index}, trial ${trial}, down killed ${downAt.delayMs} ms after event ${downAt.afterEvents} (last seen: ${down.lastEvent ?? 'none'})`;
    expect(downResult.status, downContext).toBe('done');
    expect((await ledgerMismatches(direct)).map((p) => `${p} (${downContext})`)).toEqual([]);
    expect(await currentRevisions(direct), downContext).toEqual([DOWN_TARGET]);
  }
  console.info(`lane ${index}: full up ${fullUp.events} events in ${fullUp.elapsedMs} ms, full down ${fullDown.events} events in ${fullDown.elapsedMs} ms`);
  return kills;
}

async function currentRevisions(client: SqlClient): Promise<string[]> {
  const { rows } = await client.query<{ revision: string }>(sql`
    SELECT revision FROM offpeak.applied_migrations a
    WHERE NOT EXISTS (SELECT 1 FROM offpeak.applied_migrations b WHERE b.applied_at > a.applied_at) ORDER BY revision`);
  return rows.map((r) => r.revision);
}

/** Logs where every kill landed; returns how many killed the child mid-run. */
export function summarize(kills: Kill[], seedValue: number): number {
  const midRun = kills.filter((k) => k.run.killed && k.run.lastEvent !== undefined);
  console.info(
    `crash trials (seed ${seedValue}): ${midRun.length}/${kills.length} killed mid-run; last events: ` +
      kills.map((k) => `${k.direction}@${k.at.afterEvents}+${k.at.delayMs}ms:${k.run.killed ? (k.run.lastEvent ?? 'before start') : 'finished'}`).join(', '),
  );
  return midRun.length;
}

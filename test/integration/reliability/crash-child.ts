import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { LeaseHeldError } from '../../../lambdas/core/errors.ts';
import type { Direction } from '../../../lambdas/core/migrations/ledger.ts';
import { createMigrator, type AdvanceResult } from '../../../lambdas/core/migrations/runner.ts';
import { repoRoot } from '../../support/cli.ts';
import { seed } from './seed-ledger.ts';

export type ChildTarget = { url: string } | { dataApi: { endpoint: string; resourceArn: string; secretArn: string; database: string } };

export interface ChildRun {
  /** True when the child was killed before it finished. */
  killed: boolean;
  /** The child's last runner event before it ended (where it was killed). */
  lastEvent: string | undefined;
  /** ms from the child's first line (ready) to its end. */
  elapsedMs: number;
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
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

/**
 * Runs the bundled child (direction, target) and, when `killAfterMs` is given, SIGKILLs it that many ms
 * after it reports ready (unless it finished first).
 */
export function runSeedChild(
  bundle: string,
  input: { target: ChildTarget; direction: Direction; revision: string; leaseTtlMs: number; killAfterMs?: number },
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const args = JSON.stringify({ ...input.target, direction: input.direction, target: input.revision, leaseTtlMs: input.leaseTtlMs });
    const child = spawn(process.execPath, [bundle, args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffer = '';
    let stderr = '';
    let readyAt: number | undefined;
    let lastEvent: string | undefined;
    let killed = false;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += String(chunk);
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as { event: string; revision?: string; step?: number };
        buffer = buffer.slice(nl + 1);
        if (line.event === 'child_ready') {
          readyAt = Date.now();
          if (input.killAfterMs !== undefined) {
            timer = setTimeout(() => {
              killed = child.kill('SIGKILL');
            }, input.killAfterMs);
          }
        } else if (line.event !== 'child_result') {
          lastEvent = `${line.event}${line.revision ? ` ${line.revision}` : ''}${line.step !== undefined ? `#${line.step}` : ''}`;
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ killed, lastEvent, elapsedMs: readyAt === undefined ? 0 : Date.now() - readyAt, code, stderr });
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
      if (!(error instanceof LeaseHeldError) || attempt > 20) throw error;
      await new Promise((r) => setTimeout(r, Math.max(50, error.expiresAt.getTime() - Date.now() + 50)));
    }
  }
}

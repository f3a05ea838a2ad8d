/**
 * PGlite cold start: time to create and open an embedded database with pgvector
 * (in memory; on disk fresh, which runs initdb; on disk again, which reopens), each in
 * this fresh process, next to the time to connect to PostgreSQL over TCP.
 *
 * Run: npx tsx bench/pglite-cold-start.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPglite } from '../lambdas/core/db/pglite.ts';
import { line, memory, ms } from './_report.ts';

const url = process.env['TEST_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';

async function timePglite(dataDir: string): Promise<number> {
  const started = performance.now();
  const db = await openPglite({ dataDir });
  await db.query('CREATE EXTENSION IF NOT EXISTS vector');
  await db.query(`SELECT '[1,2,3]'::vector`);
  const elapsed = performance.now() - started;
  await db.close();
  return elapsed;
}

async function timePgConnect(): Promise<number | undefined> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return performance.now() - started;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'offpeak-bench-pglite-'));
try {
  const moduleStarted = performance.now();
  await import('@electric-sql/pglite');
  await import('@electric-sql/pglite/vector');
  const moduleMs = performance.now() - moduleStarted;
  const firstMs = await timePglite('memory://');
  const memoryMs = await timePglite('memory://');
  const freshMs = await timePglite(join(dir, 'db'));
  const reopenMs = await timePglite(join(dir, 'db'));
  const pgMs = await timePgConnect();

  process.stdout.write(`PGlite cold start with pgvector, to a first vector query (load average ${loadavg()[0]!.toFixed(1)})\n`);
  line('module load', ms(moduleMs));
  line('first open in a process (+ WASM compile)', ms(firstMs));
  line('in memory (create + open + CREATE EXTENSION)', ms(memoryMs));
  line('on disk, fresh directory (initdb)', ms(freshMs));
  line('on disk, existing directory (reopen)', ms(reopenMs));
  if (pgMs === undefined) line('pg connect + SELECT 1', `unavailable at ${new URL(url).host}`);
  else {
    line('pg connect + SELECT 1', ms(pgMs));
    line('ratio: reopen PGlite / pg connect', `${(reopenMs / pgMs).toFixed(0)}×`);
  }
  memory();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { SqlClient } from '../../lambdas/core/db/client.ts';
import { createPgClient } from '../../lambdas/core/db/pg.ts';
import { createPgliteClient, openPglite } from '../../lambdas/core/db/pglite.ts';

/**
 * A scratch database for one test file: a fresh database on TEST_DATABASE_URL's
 * server when it is set (CI), or an in-memory PGlite otherwise.
 */
export interface TestDatabase {
  kind: 'pg' | 'pglite';
  client: SqlClient;
  /** Connection URL of the scratch database (pg only). */
  url: string | undefined;
  /** The PGlite instance (pglite only), e.g. to serve it over the local Data API server. */
  pglite: import('@electric-sql/pglite').PGlite | undefined;
  /** True where the pgvector extension can be created. */
  hasVector: boolean;
  dispose(): Promise<void>;
}

export const testDatabaseUrl = process.env['TEST_DATABASE_URL'] || undefined;

/**
 * True in the PostgreSQL pass (TEST_DATABASE_URL set). A test of PGlite itself (an on-disk directory, its
 * lock, `offpeak start`) uses no test database and would run identically in both of CI's passes, so it
 * skips in this one and runs in the PGlite pass: `it.skipIf(postgresqlPass)`.
 */
export const postgresqlPass = testDatabaseUrl !== undefined;

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * A freshly initialized PGlite's data directory, dumped once and shared by every test process: initdb costs
 * seconds per database (measured 18-24 s at load 20 on the 2-core CI machine, against 3-4 s to load the
 * dump), and each PGlite scratch database would otherwise pay it. The dump is what initdb made, nothing
 * more (no schema, no extension created), keyed by the PGlite version; written to a temporary name and
 * renamed, so a process never reads a half-written one and two that race both write a whole one.
 */
let template: Promise<Blob> | undefined;
const pgliteTemplate = () => (template ??= loadOrMakeTemplate());

async function loadOrMakeTemplate(): Promise<Blob> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const { version } = JSON.parse(readFileSync(join(root, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string };
  const dir = join(root, '.offpeak', 'test');
  const file = join(dir, `pglite-initdb-${version}.tar`);
  if (existsSync(file)) return new Blob([readFileSync(file)]);
  const db = await openPglite({ dataDir: 'memory://' });
  try {
    const dump = await db.dumpDataDir('none');
    mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file);
    return dump;
  } finally {
    await db.close();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (!testDatabaseUrl) {
    const db = await openPglite({ dataDir: 'memory://', loadDataDir: await pgliteTemplate() });
    const client = createPgliteClient(db);
    return { kind: 'pglite', client, url: undefined, pglite: db, hasVector: true, dispose: () => client.close() };
  }

  const name = `offpeak_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const vectorRow = await admin.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'vector'`);
    const url = withDatabase(testDatabaseUrl, name);
    const client = createPgClient({ connectionString: url, max: 6 });
    return {
      kind: 'pg',
      client,
      url,
      pglite: undefined,
      hasVector: (vectorRow.rowCount ?? 0) > 0,
      async dispose() {
        await client.close();
        const dropper = new pg.Client({ connectionString: testDatabaseUrl });
        await dropper.connect();
        try {
          await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await dropper.end();
        }
      },
    };
  } finally {
    await admin.end();
  }
}

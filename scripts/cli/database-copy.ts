import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import pg from 'pg';
import { quoteIdent } from '../../lambdas/core/db/sql.ts';
import { mapPgError } from '../../lambdas/core/db/pg.ts';
import { ConfigError, OffpeakError, SourceBusyError } from '../../lambdas/core/errors.ts';

/**
 * A throw-away copy of a PostgreSQL database for `offpeak rehearse`: made from the source with
 * `CREATE DATABASE … TEMPLATE` (a file-level copy, fast, but PostgreSQL refuses it while anyone else is
 * connected to the source), or restored from a dump into a fresh database. Dropped `WITH (FORCE)`.
 */
export interface DatabaseCopy {
  /** The copy's database name (offpeak_rehearsal_…). */
  name: string;
  url: string;
  /** Drops the copy (idempotent); connections still open on it are ended. */
  drop(): Promise<void>;
}

/** The URL with another database name. */
export function urlForDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

function databaseOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new ConfigError('--database-url names no database: give postgres://user@host:5432/dbname (the database to rehearse on a copy of)');
  return name;
}

/** A copy's name: recognisable, unique, within PostgreSQL's 63 bytes. */
export function copyName(source: string): string {
  const stem = source.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30);
  return `offpeak_rehearsal_${stem}_${randomBytes(4).toString('hex')}`;
}

/**
 * Runs `fn` on a connection to the server's maintenance database (postgres, else template1): CREATE and DROP
 * DATABASE cannot run connected to the database they copy or drop.
 */
async function withAdmin<T>(sourceUrl: string, fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (const db of ['postgres', 'template1']) {
    const admin = new pg.Client({ connectionString: urlForDatabase(sourceUrl, db), application_name: 'offpeak:rehearse' });
    try {
      await admin.connect();
    } catch (error) {
      lastError = error;
      await admin.end().catch(() => {});
      continue;
    }
    try {
      return await fn(admin);
    } catch (error) {
      throw mapPgError(error);
    } finally {
      await admin.end().catch(() => {});
    }
  }
  throw mapPgError(lastError);
}

/** Who else is connected to `database`, for the error that says why it cannot be copied. */
async function sessionsOn(admin: pg.Client, database: string): Promise<{ count: number; applications: string[] }> {
  const { rows } = await admin.query<{ application_name: string; n: string }>(
    `SELECT coalesce(nullif(application_name, ''), '(no application_name)') AS application_name, count(*) AS n
       FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 2 DESC, 1`,
    [database],
  );
  return { count: rows.reduce((sum, r) => sum + Number(r.n), 0), applications: rows.map((r) => `${r.application_name} (${r.n})`) };
}

function dropper(sourceUrl: string, name: string): () => Promise<void> {
  let dropped = false;
  return async () => {
    if (dropped) return;
    await withAdmin(sourceUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
    dropped = true;
  };
}

/** Copies the source database with CREATE DATABASE … TEMPLATE; a source with other sessions is refused with who they are. */
export async function copyFromTemplate(sourceUrl: string, name = copyName(databaseOf(sourceUrl))): Promise<DatabaseCopy> {
  const source = databaseOf(sourceUrl);
  await withAdmin(sourceUrl, async (admin) => {
    try {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(source)}`);
    } catch (error) {
      if ((error as { code?: string }).code !== '55006') throw error;
      const { count, applications } = await sessionsOn(admin, source);
      throw new SourceBusyError(
        `cannot copy ${source}: CREATE DATABASE … TEMPLATE needs it to have no other sessions, and it has ${count || 'some'}` +
          `${applications.length ? ` (${applications.join(', ')})` : ''}; rehearse from a dump instead (pg_dump -Fc ${source} > ${source}.dump, then --from-dump ${source}.dump), or at a quiet moment when nothing is connected`,
        { context: { database: source, sessions: count, applications }, cause: error },
      );
    }
  });
  return { name, url: urlForDatabase(sourceUrl, name), drop: dropper(sourceUrl, name) };
}

/** True for pg_dump's custom format (restored with pg_restore); anything else is read as SQL (psql). */
async function isCustomDump(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new ConfigError(`--from-dump ${file}: cannot read it (${(error as Error).message}); give a pg_dump file (-Fc, or plain SQL)`, { cause: error });
  }
  try {
    const head = Buffer.alloc(5);
    await handle.read(head, 0, 5, 0);
    return head.toString('latin1') === 'PGDMP';
  } finally {
    await handle.close();
  }
}

function runTool(command: string, args: string[], signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(signal ? { signal } : {}) });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('error', (error) => {
      if ((error as { code?: string }).code === 'ENOENT') reject(new ConfigError(`--from-dump needs ${command} on the PATH (PostgreSQL's client tools)`, { cause: error }));
      else reject(error);
    });
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new OffpeakError(`${command} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ') || 'no message'}`, { context: { command, code } }));
    });
  });
}

/**
 * Restores a dump into a fresh database on the source's server: pg_restore for pg_dump's custom format, psql
 * (stopping at the first error) for plain SQL. The copy is dropped again when the restore fails.
 */
export async function copyFromDump(sourceUrl: string, file: string, signal?: AbortSignal): Promise<DatabaseCopy> {
  const custom = await isCustomDump(file);
  const name = copyName(databaseOf(sourceUrl));
  await withAdmin(sourceUrl, (admin) => admin.query(`CREATE DATABASE ${quoteIdent(name)}`));
  const copy = { name, url: urlForDatabase(sourceUrl, name), drop: dropper(sourceUrl, name) };
  try {
    if (custom) await runTool('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', '--dbname', copy.url, file], signal);
    else await runTool('psql', ['--no-psqlrc', '--quiet', '-v', 'ON_ERROR_STOP=1', '--dbname', copy.url, '--file', file], signal);
  } catch (error) {
    await copy.drop().catch(() => {});
    throw error;
  }
  return copy;
}

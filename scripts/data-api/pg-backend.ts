import pg from 'pg';
import type { Backend, RawResult, RawValue, Session } from './backend.ts';
import { databaseUnavailable, ServiceError } from './service-error.ts';

/** Every type comes back as PostgreSQL's text, unparsed: conversion happens in results.ts. */
const rawTypes = { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig;

function toPgValue(value: RawValue): unknown {
  return value instanceof Uint8Array && !Buffer.isBuffer(value) ? Buffer.from(value) : value;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/**
 * Real PostgreSQL through node-postgres pools, one pool per database named in
 * requests (the service lets `database` pick any database on the cluster).
 */
export function createPgBackend(databaseUrl: string, options: { maxConnections?: number } = {}): Backend {
  const defaultDatabase = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, '')) || undefined;

  const pools = new Map<string, { pool: pg.Pool; url: string }>();

  function poolFor(database: string | undefined): { pool: pg.Pool; url: string } {
    const key = database ?? defaultDatabase ?? '';
    let entry = pools.get(key);
    if (!entry) {
      // The URL is built once per database, not per call.
      const url = database ? withDatabase(databaseUrl, database) : databaseUrl;
      const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10, idleTimeoutMillis: 30_000 });
      // An idle pooled connection that dies (server restart) must not crash the server.
      pool.on('error', () => undefined);
      pools.set(key, (entry = { pool, url }));
    }
    return entry;
  }

  return {
    kind: 'pg',
    concurrent: true,
    async open(database) {
      const { pool, url } = poolFor(database);
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        if ((error as { code?: string }).code === '3D000') {
          // PostgreSQL's own refusal, as a database error. DatabaseNotFoundException is the model's
          // "The DB cluster doesn't have a DB instance", not a wrong database name.
          throw new ServiceError('DatabaseErrorException', 400, `FATAL: ${(error as Error).message}; SQLState: 3D000`, { cause: error });
        }
        throw databaseUnavailable(`Database is unavailable: ${(error as Error).message}`, error);
      }
      const connectionId = (client as unknown as { processID: number }).processID;
      let released = false;
      const session: Session = {
        connectionId,
        async query(text, values): Promise<RawResult> {
          const result = await client.query({ text, values: values.map(toPgValue), rowMode: 'array', types: rawTypes });
          const counted = ['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY'].includes(result.command);
          return {
            fields: result.fields.map((f) => ({
              name: f.name,
              dataTypeID: f.dataTypeID,
              tableID: f.tableID,
              columnID: f.columnID,
              dataTypeModifier: f.dataTypeModifier,
            })),
            rows: result.rows as Array<Array<string | null>>,
            rowCount: counted ? result.rowCount : null,
            command: result.command,
          };
        },
        async cancel() {
          // A separate connection, since the session's own is busy with the statement.
          const canceller = new pg.Client({ connectionString: url });
          try {
            await canceller.connect();
            await canceller.query('SELECT pg_cancel_backend($1)', [connectionId]);
            return true;
          } finally {
            await canceller.end().catch(() => undefined);
          }
        },
        release(reset) {
          if (released) return;
          released = true;
          if (!reset) return client.release();
          client.query('DISCARD ALL').then(
            () => client.release(),
            (error: Error) => client.release(error),
          );
        },
      };
      return session;
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.pool.end()));
      pools.clear();
    },
  };
}

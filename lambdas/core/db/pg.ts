import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import type { QueryResult, Row, SqlClient, SqlExecutor, LongStatementOutcome } from './client.ts';
import { isTypedValue, type SqlQuery, type SqlValue } from './sql.ts';
import { DatabaseError, DatabaseUnavailableError, OffpeakError } from '../errors.ts';

const OID = {
  bytea: 17,
  int8: 20,
  timestamp: 1114,
  date: 1082,
  byteaArray: 1001,
  int8Array: 1016,
  dateArray: 1182,
  numericArray: 1231,
} as const;

const textArray = pg.types.getTypeParser(1009 as never /* text[] */) as (text: string) => string[];
const parseBytea = pg.types.getTypeParser(OID.bytea as never) as (text: string) => Buffer;
/** A plain Uint8Array, as PGlite and the Data API adapter return, rather than a Buffer subclass. */
const asBytes = (text: string) => {
  const buffer = parseBytea(text);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
};

/** Parsers that make node-postgres return the values described in client.ts. */
const typeParsers: Partial<Record<number, (text: string) => unknown>> = {
  [OID.bytea]: asBytes,
  [OID.int8]: (text) => Number(text),
  [OID.timestamp]: (text) => new Date(`${text.replace(' ', 'T')}Z`),
  [OID.date]: (text) => text,
  // Arrays match the scalar parsers: int8[] as numbers, date[] and numeric[] as exact text
  // (pg-types would read numeric[] as floats), bytea[] as Uint8Arrays.
  [OID.int8Array]: pg.types.getTypeParser(1007 as never /* int4[] */),
  [OID.dateArray]: textArray,
  [OID.numericArray]: textArray,
  [OID.byteaArray]: (text) => textArray(text).map((item) => (item === null ? null : asBytes(item))),
};

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    const own = typeParsers[oid];
    if (own && format !== 'binary') return own;
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

export function toPgValue(value: SqlValue): unknown {
  if (isTypedValue(value)) return value.value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** Maps a node-postgres error to offpeak's, keeping SQLSTATE and message. */
export function mapPgError(error: unknown): Error {
  if (error instanceof OffpeakError) return error;
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
    return new DatabaseError(String(e.message), { sqlState: e.code, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new DatabaseUnavailableError(`PostgreSQL connection failed: ${message}`, { cause: error });
}

/**
 * A repeated query runs as a named prepared statement, named after its text: node-postgres parses it once per
 * connection, and PostgreSQL keeps its plan, which for the ledger's many-CTE writes costs more than running them.
 */
function statementName(text: string): string {
  return `offpeak_${createHash('sha1').update(text).digest('hex').slice(0, 32)}`;
}

async function run<R>(target: pg.Pool | pg.PoolClient, query: SqlQuery): Promise<QueryResult<R>> {
  const { text, values } = query.render((i) => `$${i}`);
  try {
    const result = await target.query({ ...(query.hints.repeated ? { name: statementName(text) } : {}), text, values: values.map(toPgValue), types });
    return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
  } catch (error) {
    throw mapPgError(error);
  }
}

export interface PgClientOptions {
  connectionString: string;
  /** Pool size; transactions and concurrent callers each hold one connection. */
  max?: number;
  /**
   * application_name of every connection. Default `offpeak:<random hex>`, unique per client: the migration
   * lease proves its holder alive by it (lease.ts), so a run that finds no backend with it takes over at once.
   */
  applicationName?: string;
  /**
   * executeLong returns `still_running` (with `finished`) once a statement has run this long, leaving it to
   * finish on its connection, so the caller can poll pg_stat_progress_create_index meanwhile (the CLI's
   * progress bar). Unset: executeLong waits for the statement. Needs `max` ≥ 2, for the polling.
   */
  stillRunningAfterMs?: number;
}

/** SqlClient over node-postgres. No call time limit: executeLong waits for completion unless `stillRunningAfterMs` is set. */
export function createPgClient(options: PgClientOptions): SqlClient {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 4,
    application_name: options.applicationName ?? `offpeak:${randomBytes(8).toString('hex')}`,
  });
  // An idle client that loses its connection must not crash the process.
  pool.on('error', () => {});

  return {
    dialect: 'pg',
    query: <R = Row>(query: SqlQuery) => run<R>(pool, query),
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      let conn: pg.PoolClient;
      try {
        conn = await pool.connect();
      } catch (error) {
        throw mapPgError(error);
      }
      let broken = false;
      try {
        await conn.query('BEGIN');
      } catch (error) {
        conn.release(true);
        throw mapPgError(error);
      }
      try {
        const tx: SqlExecutor = { dialect: 'pg', query: <R = Row>(q: SqlQuery) => run<R>(conn, q) };
        let result: T;
        try {
          result = await fn(tx);
        } catch (error) {
          try {
            await conn.query('ROLLBACK');
          } catch {
            broken = true;
          }
          // The caller's own error (or an already-mapped one) goes back unchanged.
          throw error;
        }
        try {
          await conn.query('COMMIT');
        } catch (error) {
          broken = true;
          throw mapPgError(error);
        }
        return result;
      } finally {
        conn.release(broken);
      }
    },
    async executeLong(query: SqlQuery): Promise<LongStatementOutcome> {
      const running = run<Row>(pool, query);
      const after = options.stillRunningAfterMs;
      if (after === undefined) return { state: 'done', result: await running };
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), after)));
      try {
        const first = await Promise.race([running, late]);
        if (first !== 'late') return { state: 'done', result: first };
      } finally {
        clearTimeout(timer);
      }
      const finished = running.then(() => undefined);
      finished.catch(() => undefined); // the caller may stop polling (deadline) and never look: not an unhandled rejection
      return { state: 'still_running', finished };
    },
    close: () => pool.end(),
  };
}

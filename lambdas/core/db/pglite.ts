import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import type { QueryResult, Row, SqlClient, SqlExecutor, LongStatementOutcome } from './client.ts';
import { isTypedValue, type SqlQuery, type SqlValue } from './sql.ts';
import { mapPgError } from './pg.ts';

export const DEFAULT_PGLITE_DIR = '.offpeak/pglite';

const OID = {
  int8: 20,
  timestamp: 1114,
  date: 1082,
  int8Array: 1016,
  timestampArray: 1115,
  dateArray: 1182,
} as const;

const asText = (text: string) => text;
/** int8 → number everywhere (PGlite would return bigint past 2^53, unlike pg and the Data API). */
const asNumber = (text: string) => Number(text);
/** timestamp without time zone is read as UTC, whatever the process's TZ (PGlite's own parser uses local time). */
const asUtcDate = (text: string) => new Date(`${text.replace(' ', 'T')}Z`);

/**
 * Parsers that make PGlite return the values described in client.ts. Query-level
 * parsers do not reach array elements, so the matching array types are listed too.
 */
const parsers = {
  [OID.int8]: asNumber,
  [OID.timestamp]: asUtcDate,
  [OID.date]: asText,
  [OID.int8Array]: (text: string) => types.arrayParser(text, asNumber, OID.int8Array),
  [OID.timestampArray]: (text: string) => types.arrayParser(text, asUtcDate, OID.timestampArray),
  [OID.dateArray]: (text: string) => types.arrayParser(text, asText, OID.dateArray),
};

function toPgliteValue(value: SqlValue): unknown {
  if (isTypedValue(value)) return value.value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  return value;
}

type Queryable = Pick<PGlite, 'query'> | Transaction;

async function run<R>(target: Queryable, query: SqlQuery): Promise<QueryResult<R>> {
  const { text, values } = query.render((i) => `$${i}`);
  try {
    const result = await target.query<R>(text, values.map(toPgliteValue), { parsers });
    // PGlite reports affectedRows 0 for SELECT; a statement that returns rows counts them, like pg.
    const rowCount = result.fields.length > 0 ? result.rows.length : (result.affectedRows ?? 0);
    return { rows: result.rows, rowCount };
  } catch (error) {
    throw mapPgError(error);
  }
}

export interface PgliteClientOptions {
  /** Data directory; `memory://` (or undefined with inMemory) for a throwaway database. */
  dataDir?: string;
  /**
   * A new database's contents, as `dumpDataDir()` wrote them, instead of initdb (which costs seconds, tens
   * on a busy machine): the tests open each scratch database from one dump.
   */
  loadDataDir?: Blob;
}

/** Opens PGlite with pgvector loaded. */
export async function openPglite(options: PgliteClientOptions = {}): Promise<PGlite> {
  const dataDir = options.dataDir ?? DEFAULT_PGLITE_DIR;
  return PGlite.create({ dataDir, extensions: { vector }, ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}) });
}

/** SqlClient over an open PGlite. PGlite is one connection: calls run one at a time. */
export function createPgliteClient(db: PGlite, onClose?: () => Promise<void>): SqlClient {
  return {
    dialect: 'pglite',
    query: <R = Row>(query: SqlQuery) => run<R>(db, query),
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      let fnFailed = false;
      try {
        return await db.transaction(async (tx) => {
          try {
            return await fn({ dialect: 'pglite', query: <R = Row>(q: SqlQuery) => run<R>(tx, q) });
          } catch (error) {
            fnFailed = true;
            throw error;
          }
        });
      } catch (error) {
        // The caller's own error goes back unchanged; BEGIN/COMMIT failures get mapped.
        throw fnFailed ? error : mapPgError(error);
      }
    },
    async executeLong(query: SqlQuery): Promise<LongStatementOutcome> {
      return { state: 'done', result: await run(db, query) };
    },
    async close() {
      await db.close();
      await onClose?.();
    },
  };
}

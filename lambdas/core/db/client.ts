import type { SqlQuery } from './sql.ts';

/**
 * Values every adapter returns, whatever the wire format:
 * - int2/int4/float4/float8/oid → number; int8 → number (the Data API sends longValue
 *   as a JSON number, so precision past 2^53 is lost there anyway; cast to text if it matters)
 * - numeric → string (exact); bool → boolean; text/varchar/name/uuid/enum/vector/inet → string
 * - timestamp/timestamptz → Date (timestamp without zone read as UTC); date → 'YYYY-MM-DD' string; time → string
 * - json/jsonb → parsed value; bytea → Uint8Array; one-dimensional arrays → JS arrays
 */
export type Row = Record<string, unknown>;

export interface QueryResult<R = Row> {
  rows: R[];
  /** Rows affected by INSERT/UPDATE/DELETE, or returned by SELECT. */
  rowCount: number;
}

export type LongStatementOutcome =
  | { state: 'done'; result: QueryResult }
  /**
   * The call returned before the statement finished; it keeps running on the server. Poll the catalog.
   * `finished` is there when the adapter still holds the statement's connection (pg): it settles when the
   * statement ends, and rejects with its error. The Data API cannot tell, so there it is absent.
   */
  | { state: 'still_running'; finished?: Promise<void> };

export type Dialect = 'pg' | 'pglite' | 'data-api';

/** The part of a client usable inside a transaction: same calls, one connection. */
export interface SqlExecutor {
  readonly dialect: Dialect;
  /** Runs exactly one statement. */
  query<R = Row>(query: SqlQuery): Promise<QueryResult<R>>;
}

/**
 * The only way core talks to a database. One statement per call, since the Data
 * API rejects multi-statement SQL.
 */
export interface SqlClient extends SqlExecutor {
  /**
   * The transport's limit on one statement, when it has one (the Data API's 45 s): the runner starts a
   * transactional unit only when its statements fit before the deadline at this much each. Absent for pg and
   * PGlite, where a statement runs as long as it takes.
   */
  readonly statementTimeoutMs?: number;
  /**
   * Runs `fn` on one connection inside BEGIN … COMMIT; rolls back and rethrows if fn throws.
   * Nested calls are not supported.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Runs one long autocommit statement (CREATE INDEX CONCURRENTLY, ANALYZE, VACUUM).
   * Where the transport has a call time limit (the Data API's 45 s), it returns
   * `still_running` instead of failing, and the statement goes on on the server. A pg client
   * made with `stillRunningAfterMs` does the same after that long, so its caller can report progress.
   */
  executeLong(query: SqlQuery): Promise<LongStatementOutcome>;
  close(): Promise<void>;
}

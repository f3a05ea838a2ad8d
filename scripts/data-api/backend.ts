/**
 * What the server needs from a database: sessions (one connection each) that
 * run one statement with text-format parameters and give back raw text values,
 * so the server alone decides how each PostgreSQL type maps to a Data API Field.
 */
export interface RawField {
  name: string;
  dataTypeID: number;
  /** Table OID and column number when the column comes straight from a table (pg only; 0 otherwise). */
  tableID?: number;
  columnID?: number;
  dataTypeModifier?: number;
}

export interface RawResult {
  fields: RawField[];
  rows: Array<Array<string | null>>;
  /** Rows inserted, updated or deleted; null when the statement reports no count. */
  rowCount: number | null;
  /** The command tag's verb where the backend reports it (pg): COMMIT of an aborted transaction says ROLLBACK. */
  command?: string;
}

/** A parameter value as sent to PostgreSQL: text format, except booleans and bytea. */
export type RawValue = string | boolean | Uint8Array | null;

export interface Session {
  /** The backend process id, reported as StatementTimeoutException.dbConnectionId. */
  readonly connectionId: number;
  query(text: string, values: RawValue[]): Promise<RawResult>;
  /** Cancels the running statement with PostgreSQL's own cancel; false where the backend cannot. */
  cancel(): Promise<boolean>;
  /**
   * Gives the connection back. With `reset`, session state (SET, temp tables,
   * session advisory locks) is discarded first, since the service keeps none between calls;
   * a connection that cannot be reset (e.g. left inside a transaction block) is destroyed.
   */
  release(reset: boolean): void;
}

export interface Backend {
  readonly kind: 'pg' | 'pglite';
  /** True when statements run in parallel on separate connections (pg), false for PGlite's single connection. */
  readonly concurrent: boolean;
  /**
   * A session for one call, or for a transaction (held until release). A backend that
   * cannot serve it may refuse at once with a ServiceError rather than make the caller wait.
   */
  open(database: string | undefined, purpose: 'call' | 'transaction'): Promise<Session>;
  close(): Promise<void>;
}

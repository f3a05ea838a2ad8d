import { randomBytes } from 'node:crypto';
import type { Backend, RawField, RawResult, Session } from './backend.ts';
import { bindParameters, type BoundStatement } from './parameters.ts';
import { columnMetadata, Converter, type ColumnInfo, type ResultOptions } from './results.ts';
import { badRequest, internalError, ServiceError, transactionNotFound, unsupportedResult } from './service-error.ts';
import { checkSingleStatement, databaseError, runTimed } from './statement.ts';
import { builtinTypes, catalogType, type TypeInfo } from './types.ts';

export interface ServiceLimits {
  statementTimeoutMs: number;
  transactionIdleTimeoutMs: number;
  maxResponseBytes: number;
}

interface OpenTransaction {
  id: string;
  session: Session;
  database: string | undefined;
  busy: boolean;
  /** A statement failed, so PostgreSQL has aborted the transaction: COMMIT would roll back. */
  failed: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

type Body = Record<string, unknown>;

/** COMMIT of a transaction in which a statement failed: PostgreSQL rolls it back, so say so rather than "committed". */
const abortedTransaction = () =>
  new ServiceError(
    'DatabaseErrorException',
    400,
    'ERROR: current transaction is aborted, commands ignored until end of transaction block: a statement in it failed, so it was rolled back; SQLState: 25P02',
  );

function optionalString(body: Body, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`${key} must be a string`);
  return v;
}

function requiredString(body: Body, key: string): string {
  const v = optionalString(body, key);
  if (v === undefined || v === '') throw badRequest(`${key} is required`);
  return v;
}

function optionalBoolean(body: Body, key: string): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw badRequest(`${key} must be a boolean`);
  return v;
}

function resultOptions(body: Body): ResultOptions {
  const o = body['resultSetOptions'];
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object') throw badRequest('resultSetOptions must be an object');
  const { decimalReturnType, longReturnType } = o as Record<string, unknown>;
  if (decimalReturnType !== undefined && decimalReturnType !== 'STRING' && decimalReturnType !== 'DOUBLE_OR_LONG') {
    throw badRequest('resultSetOptions.decimalReturnType must be STRING or DOUBLE_OR_LONG');
  }
  if (longReturnType !== undefined && longReturnType !== 'LONG' && longReturnType !== 'STRING') {
    throw badRequest('resultSetOptions.longReturnType must be LONG or STRING');
  }
  return { decimalReturnType, longReturnType } as ResultOptions;
}

/** The Data API's five operations over a Backend, with the service's transaction and timeout rules. */
export class DataApiService {
  private readonly transactions = new Map<string, OpenTransaction>();
  private readonly typeCache = new Map<string, Map<number, TypeInfo>>();
  private closing = false;

  constructor(
    private readonly backend: Backend,
    private readonly limits: ServiceLimits,
    private readonly log: (event: Record<string, unknown>) => void = () => undefined,
  ) {}

  private common(body: Body) {
    requiredString(body, 'resourceArn');
    requiredString(body, 'secretArn');
    return { database: optionalString(body, 'database') || undefined, transactionId: optionalString(body, 'transactionId') };
  }

  // ------------------------------------------------------------ transactions

  private take(transactionId: string): OpenTransaction {
    const tx = this.transactions.get(transactionId);
    if (!tx) throw transactionNotFound(transactionId);
    if (tx.busy) throw badRequest('Transaction is still running a query');
    tx.busy = true;
    clearTimeout(tx.idleTimer);
    return tx;
  }

  private giveBack(tx: OpenTransaction, settled: Promise<void>) {
    void settled.then(() => {
      tx.busy = false;
      if (this.transactions.has(tx.id)) this.armIdleTimer(tx);
    });
  }

  private armIdleTimer(tx: OpenTransaction) {
    clearTimeout(tx.idleTimer);
    tx.idleTimer = setTimeout(() => {
      if (tx.busy || !this.transactions.has(tx.id)) return;
      this.log({ event: 'transaction_idle_timeout', transactionId: tx.id, idleMs: this.limits.transactionIdleTimeoutMs });
      void this.end(tx, 'ROLLBACK').catch(() => undefined);
    }, this.limits.transactionIdleTimeoutMs);
    tx.idleTimer.unref();
  }

  /** Ends the transaction on its connection and returns the connection; the id is forgotten first, so it can't be reused. */
  private async end(tx: OpenTransaction, command: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    this.transactions.delete(tx.id);
    clearTimeout(tx.idleTimer);
    try {
      const result = await tx.session.query(command, []);
      if (command === 'COMMIT' && result.command === 'ROLLBACK') throw abortedTransaction();
    } finally {
      tx.session.release(true);
    }
  }

  async beginTransaction(body: Body) {
    const { database } = this.common(body);
    if (this.closing) throw new ServiceError('ServiceUnavailableError', 503, 'The server is shutting down');
    const session = await this.backend.open(database);
    try {
      await session.query('BEGIN', []);
    } catch (error) {
      session.release(true);
      throw databaseError(error) ?? internalError(error);
    }
    const id = randomBytes(36).toString('base64');
    const tx: OpenTransaction = { id, session, database, busy: false, failed: false, idleTimer: undefined };
    this.transactions.set(id, tx);
    this.armIdleTimer(tx);
    return { transactionId: id };
  }

  async commitTransaction(body: Body) {
    this.common(body);
    const tx = this.take(requiredString(body, 'transactionId'));
    if (tx.failed) {
      await this.end(tx, 'ROLLBACK');
      throw abortedTransaction();
    }
    try {
      await this.end(tx, 'COMMIT');
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      throw databaseError(error) ?? internalError(error);
    }
    return { transactionStatus: 'Transaction Committed' };
  }

  async rollbackTransaction(body: Body) {
    this.common(body);
    const tx = this.take(requiredString(body, 'transactionId'));
    try {
      await this.end(tx, 'ROLLBACK');
    } catch (error) {
      throw databaseError(error) ?? internalError(error);
    }
    return { transactionStatus: 'Rollback Complete' };
  }

  /**
   * Runs `work` on the transaction's connection, or on a pooled connection in
   * autocommit. `work` reports when its statement has really finished, which may
   * be after the reply when a statement continues past its timeout.
   */
  private async withSession<T>(
    transactionId: string | undefined,
    database: string | undefined,
    work: (session: Session, track: (settled: Promise<void>) => void, tx: OpenTransaction | undefined) => Promise<T>,
  ): Promise<T> {
    let settled: Promise<void> = Promise.resolve();
    const track = (p: Promise<void>) => (settled = p);
    if (transactionId !== undefined) {
      const tx = this.take(transactionId);
      try {
        const result = await work(tx.session, track, tx);
        tx.failed = false;
        return result;
      } catch (error) {
        if (error instanceof ServiceError && error.name === 'DatabaseErrorException') tx.failed = true;
        // A cancelled statement aborts the transaction; one left running (continueAfterTimeout) reports its own outcome later.
        if (error instanceof ServiceError && error.name === 'StatementTimeoutException' && error.extra['cancelled'] === true) tx.failed = true;
        throw error;
      } finally {
        this.giveBack(tx, settled);
      }
    }
    if (this.closing) throw new ServiceError('ServiceUnavailableError', 503, 'The server is shutting down');
    const session = await this.backend.open(database);
    try {
      return await work(session, track, undefined);
    } finally {
      // Reply first, reset after: the DISCARD ALL (no session state survives a call) runs once the
      // reply is written, still before the connection goes back to the pool, so no caller waits on it.
      void settled.then(() => setImmediate(() => session.release(true)));
    }
  }

  // ------------------------------------------------------------ statements

  async executeStatement(body: Body) {
    const { database, transactionId } = this.common(body);
    const sqlText = requiredString(body, 'sql');
    const includeResultMetadata = optionalBoolean(body, 'includeResultMetadata');
    const continueAfterTimeout = optionalBoolean(body, 'continueAfterTimeout');
    const format = optionalString(body, 'formatRecordsAs') ?? 'NONE';
    if (format !== 'NONE' && format !== 'JSON') throw badRequest('formatRecordsAs must be NONE or JSON');
    const options = resultOptions(body);
    const bound = bindParameters(sqlText, body['parameters']);
    const checked = await checkSingleStatement(bound);

    return this.withSession(transactionId, database, async (session, track, tx) => {
      const result = await this.run(session, bound, continueAfterTimeout, track, tx);
      const dbKey = tx?.database ?? database ?? '';
      const types = await this.resolveTypes(session, dbKey, result.fields);
      const converter = new Converter(types, options);
      const response: Record<string, unknown> = {
        numberOfRecordsUpdated: checked.counts ? (result.rowCount ?? 0) : 0,
        generatedFields: [],
      };
      if (result.fields.length > 0) {
        if (format === 'JSON') {
          response['formattedRecords'] = JSON.stringify(
            result.rows.map((row) => Object.fromEntries(row.map((t, i) => [result.fields[i]!.name, converter.json(t, result.fields[i]!.dataTypeID)]))),
          );
        } else {
          response['records'] = result.rows.map((row) => row.map((t, i) => converter.field(t, result.fields[i]!.dataTypeID)));
          if (includeResultMetadata) {
            const columns = await this.columnInfo(session, result.fields);
            response['columnMetadata'] = result.fields.map((f) => {
              const type = types(f.dataTypeID);
              return columnMetadata(f, type, type.element === undefined ? undefined : types(type.element), columns.get(`${f.tableID}:${f.columnID}`));
            });
          }
        }
      }
      return response;
    });
  }

  async batchExecuteStatement(body: Body) {
    const { database, transactionId } = this.common(body);
    const sqlText = requiredString(body, 'sql');
    const sets = body['parameterSets'];
    if (sets !== undefined && sets !== null && !Array.isArray(sets)) throw badRequest('parameterSets must be a list of parameter lists');
    const parameterSets = (sets as unknown[] | undefined) ?? [];
    const bound = parameterSets.length === 0 ? [bindParameters(sqlText, [])] : parameterSets.map((p) => bindParameters(sqlText, p));
    await checkSingleStatement(bound[0]!);

    return this.withSession(transactionId, database, async (session, track, tx) => {
      // Outside a transaction the whole batch is one implicit transaction: all sets apply, or none.
      if (!tx) await session.query('BEGIN', []);
      try {
        for (const b of bound) await this.run(session, b, false, track, tx);
        if (!tx) await session.query('COMMIT', []);
      } catch (error) {
        if (!tx) await session.query('ROLLBACK', []).catch(() => undefined);
        throw error;
      }
      return { updateResults: parameterSets.map(() => ({ generatedFields: [] })) };
    });
  }

  private async run(
    session: Session,
    bound: BoundStatement,
    continueAfterTimeout: boolean,
    track: (p: Promise<void>) => void,
    tx: OpenTransaction | undefined,
  ): Promise<RawResult> {
    try {
      return await runTimed(session, this.backend.concurrent, bound.text, bound.values, {
        timeoutMs: this.limits.statementTimeoutMs,
        continueAfterTimeout,
        track,
        onLateFailure: () => {
          if (tx) tx.failed = true;
        },
      });
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      throw databaseError(error, bound) ?? internalError(error);
    }
  }

  /** Type info for every result column, looking up non-built-in OIDs (enums, vector, user arrays) once per database. */
  private async resolveTypes(session: Session, dbKey: string, fields: RawField[]): Promise<(oid: number) => TypeInfo> {
    let cache = this.typeCache.get(dbKey);
    if (!cache) this.typeCache.set(dbKey, (cache = new Map()));
    const known = (oid: number) => builtinTypes.get(oid) ?? cache.get(oid);
    const unknown = [...new Set(fields.map((f) => f.dataTypeID))].filter((oid) => !known(oid));
    if (unknown.length > 0) {
      const rows = await session.query(
        'SELECT oid::int4, typname::text, typcategory::text, typelem::int4 FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])',
        [`{${unknown.join(',')}}`],
      );
      for (const [oid, typname, typcategory, typelem] of rows.rows) {
        cache.set(Number(oid), catalogType({ typname: typname!, typcategory: typcategory!, typelem: Number(typelem) }));
      }
    }
    return (oid) => known(oid) ?? { name: String(oid), kind: 'string', jdbc: 1111 };
  }

  /** Table, schema, NOT NULL and serial-ness of result columns that come straight from a table (pg reports the table OID). */
  private async columnInfo(session: Session, fields: RawField[]): Promise<Map<string, ColumnInfo>> {
    const tables = [...new Set(fields.map((f) => f.tableID ?? 0).filter((t) => t > 0))];
    const info = new Map<string, ColumnInfo>();
    if (tables.length === 0) return info;
    const result = await session.query(
      `SELECT a.attrelid::int4, a.attnum::int4, c.relname::text, n.nspname::text, a.attnotnull,
              (a.attidentity <> '' OR coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false)) AS serial
         FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0`,
      [`{${tables.join(',')}}`],
    );
    for (const [relid, attnum, relname, nspname, notNull, serial] of result.rows) {
      info.set(`${relid}:${attnum}`, { tableName: relname!, schemaName: nspname!, notNull: notNull === 't', serial: serial === 't' });
    }
    return info;
  }

  /** Checks a reply against the response size limit. */
  encode(response: unknown): string {
    const text = JSON.stringify(response);
    if (Buffer.byteLength(text) > this.limits.maxResponseBytes) {
      throw unsupportedResult('Database returned more than the allowed response size limit');
    }
    return text;
  }

  /** Rolls back every open transaction and closes the backend. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.transactions.values()].map((tx) => this.end(tx, 'ROLLBACK').catch(() => undefined)));
    await this.backend.close();
  }
}

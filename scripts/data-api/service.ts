import { randomBytes } from 'node:crypto';
import type { Backend, RawField, RawResult, Session } from './backend.ts';
import { bindParameters, type BoundStatement } from './parameters.ts';
import { batchRequest, beginRequest, endRequest, executeRequest } from './request.ts';
import { columnMetadata, Converter, exactJson, type ColumnInfo } from './results.ts';
import {
  internalError,
  ServiceError,
  transactionBusy,
  transactionNotFound,
  unsupportedResult,
  type TransactionGoneReason,
} from './service-error.ts';
import { checkSingleStatement, databaseError, runTimed } from './statement.ts';
import { builtinTypes, catalogType, type TypeInfo } from './types.ts';

export interface ServiceLimits {
  statementTimeoutMs: number;
  transactionIdleTimeoutMs: number;
  /** A transaction is ended this long after BeginTransaction whatever its activity (the service's 24 hours). */
  transactionMaxLifetimeMs: number;
  maxResponseBytes: number;
  /** Cap of formattedRecords (formatRecordsAs: JSON), documented as 10 MB. */
  maxFormattedRecordsBytes: number;
}

interface OpenTransaction {
  id: string;
  session: Session;
  database: string | undefined;
  busy: boolean;
  idleTimer: NodeJS.Timeout | undefined;
  lifetimeTimer: NodeJS.Timeout | undefined;
}

type Body = Record<string, unknown>;

/** How many ended transaction ids are remembered, so a later call on one says why it is gone. */
const rememberedEndings = 10_000;

/** The Data API's five operations over a Backend, with the service's transaction and timeout rules. */
export class DataApiService {
  private readonly transactions = new Map<string, OpenTransaction>();
  private readonly ended = new Map<string, TransactionGoneReason>();
  private readonly typeCache = new Map<string, Map<number, TypeInfo>>();
  private closing = false;

  constructor(
    private readonly backend: Backend,
    private readonly limits: ServiceLimits,
    private readonly log: (event: Record<string, unknown>) => void = () => undefined,
  ) {}

  // ------------------------------------------------------------ transactions

  private take(transactionId: string): OpenTransaction {
    const tx = this.transactions.get(transactionId);
    if (!tx) throw transactionNotFound(transactionId, this.ended.get(transactionId) ?? 'expired');
    if (tx.busy) throw transactionBusy();
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
      void this.end(tx, 'ROLLBACK', 'expired').catch(() => undefined);
    }, this.limits.transactionIdleTimeoutMs);
    tx.idleTimer.unref();
  }

  /** Forgets the id (remembering why), then ends the transaction on its connection and returns the connection. */
  private async end(tx: OpenTransaction, command: 'COMMIT' | 'ROLLBACK', reason: TransactionGoneReason): Promise<void> {
    this.forget(tx, reason);
    try {
      const result = await tx.session.query(command, []);
      if (command === 'COMMIT' && result.command === 'ROLLBACK') {
        throw new ServiceError('DatabaseErrorException', 400, 'ERROR: the transaction was rolled back, not committed; SQLState: 25P02');
      }
    } finally {
      tx.session.release(true);
    }
  }

  private forget(tx: OpenTransaction, reason: TransactionGoneReason) {
    this.transactions.delete(tx.id);
    clearTimeout(tx.idleTimer);
    clearTimeout(tx.lifetimeTimer);
    if (this.ended.size >= rememberedEndings) this.ended.delete(this.ended.keys().next().value!);
    this.ended.set(tx.id, reason);
  }

  /**
   * An error inside a transaction ends it, as on AWS: the troubleshooting guide's "Transaction
   * has been aborted due to an error from a previous call". PostgreSQL would keep it open in
   * its aborted state; the service rolls it back and forgets the id, so the next call on it
   * (commit included) gets TransactionNotFoundException with that cause.
   */
  private abort(tx: OpenTransaction, settled: Promise<void>) {
    if (!this.transactions.has(tx.id)) return;
    this.forget(tx, 'aborted');
    this.log({ event: 'transaction_aborted', transactionId: tx.id });
    void settled.then(() => this.rollbackForgotten(tx));
  }

  private async rollbackForgotten(tx: OpenTransaction) {
    try {
      await tx.session.query('ROLLBACK', []);
    } catch {
      // The connection is reset (or destroyed) on release either way.
    } finally {
      tx.session.release(true);
    }
  }

  private refuseWhileClosing() {
    if (this.closing) throw new ServiceError('ServiceUnavailableError', 503, 'The server is shutting down');
  }

  async beginTransaction(body: Body) {
    const { database } = beginRequest(body);
    this.refuseWhileClosing();
    const session = await this.backend.open(database, 'transaction');
    try {
      await session.query('BEGIN', []);
    } catch (error) {
      session.release(true);
      throw databaseError(error) ?? internalError(error);
    }
    const id = randomBytes(36).toString('base64');
    const tx: OpenTransaction = { id, session, database, busy: false, idleTimer: undefined, lifetimeTimer: undefined };
    this.transactions.set(id, tx);
    this.armIdleTimer(tx);
    tx.lifetimeTimer = setTimeout(() => {
      if (!this.transactions.has(id)) return;
      this.log({ event: 'transaction_max_lifetime', transactionId: id, lifetimeMs: this.limits.transactionMaxLifetimeMs });
      // A statement still running is cancelled by PostgreSQL's own rollback of the connection on release.
      if (tx.busy) this.abort(tx, Promise.resolve());
      else void this.end(tx, 'ROLLBACK', 'expired').catch(() => undefined);
      this.ended.set(id, 'expired');
    }, this.limits.transactionMaxLifetimeMs);
    tx.lifetimeTimer.unref();
    return { transactionId: id };
  }

  async commitTransaction(body: Body) {
    const tx = this.take(endRequest(body).transactionId);
    try {
      await this.end(tx, 'COMMIT', 'ended');
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      throw databaseError(error) ?? internalError(error);
    }
    return { transactionStatus: 'Transaction Committed' };
  }

  async rollbackTransaction(body: Body) {
    const tx = this.take(endRequest(body).transactionId);
    try {
      await this.end(tx, 'ROLLBACK', 'ended');
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
        return await work(tx.session, track, tx);
      } catch (error) {
        // A statement that failed, or one cancelled at its timeout, ends the transaction. One left
        // running (continueAfterTimeout) keeps it busy and reports its own outcome later (onLateFailure).
        const failed = error instanceof ServiceError && error.name === 'DatabaseErrorException';
        const cancelled = error instanceof ServiceError && error.name === 'StatementTimeoutException' && error.extra['cancelled'] === true;
        if (failed || cancelled) this.abort(tx, settled);
        throw error;
      } finally {
        this.giveBack(tx, settled);
      }
    }
    this.refuseWhileClosing();
    const session = await this.backend.open(database, 'call');
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
    const request = executeRequest(body);
    const { database, transactionId, formatRecordsAs } = request;
    const bound = bindParameters(request.sql, request.parameters);
    const checked = await checkSingleStatement(bound);

    return this.withSession(transactionId, database, async (session, track, tx) => {
      const deadline = Date.now() + this.limits.statementTimeoutMs;
      const result = await this.run(session, bound, { deadline, continueAfterTimeout: request.continueAfterTimeout, track, tx });
      const dbKey = tx?.database ?? database ?? '';
      const types = await this.resolveTypes(session, dbKey, result.fields);
      const converter = new Converter(types, request.resultOptions);
      const response: Record<string, unknown> = {
        numberOfRecordsUpdated: checked.counts ? (result.rowCount ?? 0) : 0,
        generatedFields: [],
      };
      if (result.fields.length > 0) {
        if (formatRecordsAs === 'JSON') {
          response['formattedRecords'] = this.formatted(result, converter);
        } else {
          response['records'] = result.rows.map((row) => row.map((t, i) => converter.field(t, result.fields[i]!.dataTypeID)));
          if (request.includeResultMetadata) {
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

  /** formattedRecords: one JSON object per row keyed by column label, so two columns with one label cannot be told apart. */
  private formatted(result: RawResult, converter: Converter): string {
    const names = result.fields.map((f) => f.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) {
      throw unsupportedResult(
        `The result has more than one column labelled "${duplicate}", which formatRecordsAs JSON cannot return as object keys. Give each column a distinct alias (AS).`,
      );
    }
    const text = exactJson(result.rows.map((row) => Object.fromEntries(row.map((t, i) => [names[i]!, converter.json(t, result.fields[i]!.dataTypeID)]))));
    if (Buffer.byteLength(text) > this.limits.maxFormattedRecordsBytes) {
      throw unsupportedResult(
        `The JSON-formatted result is larger than the ${this.limits.maxFormattedRecordsBytes}-byte limit of formattedRecords. Return fewer rows (LIMIT) and page through them.`,
      );
    }
    return text;
  }

  async batchExecuteStatement(body: Body) {
    const request = batchRequest(body);
    const { database, transactionId, parameterSets } = request;
    const bound = parameterSets.length === 0 ? [bindParameters(request.sql, [])] : parameterSets.map((p) => bindParameters(request.sql, p));
    await checkSingleStatement(bound[0]!);

    return this.withSession(transactionId, database, async (session, track, tx) => {
      // The statement timeout applies to the whole call, not to each parameter set.
      const deadline = Date.now() + this.limits.statementTimeoutMs;
      // Outside a transaction the whole batch is one implicit transaction: all sets apply, or none.
      if (!tx) await session.query('BEGIN', []);
      try {
        for (const b of bound) await this.run(session, b, { deadline, continueAfterTimeout: false, track, tx });
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
    options: { deadline: number; continueAfterTimeout: boolean; track: (p: Promise<void>) => void; tx: OpenTransaction | undefined },
  ): Promise<RawResult> {
    const { tx } = options;
    try {
      return await runTimed(session, this.backend.concurrent, bound.text, bound.values, {
        deadline: options.deadline,
        timeoutMs: this.limits.statementTimeoutMs,
        continueAfterTimeout: options.continueAfterTimeout,
        track: options.track,
        onLateFailure: (settled) => {
          if (tx) this.abort(tx, settled);
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

  /**
   * The reply as JSON (int8 beyond 2^53 written exactly), checked against the response size
   * limit. A JSON-format reply is bounded by formattedRecords' own 10 MB instead.
   */
  encode(response: Record<string, unknown>): string {
    const text = exactJson(response);
    if (response['formattedRecords'] === undefined && Buffer.byteLength(text) > this.limits.maxResponseBytes) {
      throw unsupportedResult('Database returned more than the allowed response size limit');
    }
    return text;
  }

  /** Rolls back every open transaction and closes the backend. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.transactions.values()].map((tx) => this.end(tx, 'ROLLBACK', 'expired').catch(() => undefined)));
    await this.backend.close();
  }
}

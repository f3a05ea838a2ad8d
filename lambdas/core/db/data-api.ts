import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  type ExecuteStatementCommandOutput,
  type ExecuteStatementRequest,
} from '@aws-sdk/client-rds-data';
import type { LongStatementOutcome, QueryResult, Row, SqlClient, SqlExecutor } from './client.ts';
import type { SqlQuery } from './sql.ts';
import { fromDataApiRecords, fromFormattedRecords, toDataApiParameters } from './data-api-values.ts';
import { classifyDataApiFault, mapDataApiError } from './data-api-errors.ts';
import { DEFAULT_RETRY_POLICY, realSleep, withFaultRetry, type FaultRetryOptions, type RetryPolicy, type Sleep } from './data-api-retry.ts';
import { callDeadline } from './call-deadline.ts';
import { StatementTimeoutError, TransactionNotFoundError } from '../errors.ts';

/**
 * SqlClient over the RDS Data API. Lambda bundles import this file by its own path:
 * it must never import pg, PGlite or libpg-query.
 */

/**
 * The SDK's per-request timeout. Above the service's 45 s statement limit, so the
 * service answers first: a socket timeout would leave the outcome unknown.
 */
export const DATA_API_REQUEST_TIMEOUT_MS = 70_000;

/** The service cancels a statement (or, with continueAfterTimeout, stops waiting for it) after 45 s (FACTS.md). */
export const DATA_API_STATEMENT_TIMEOUT_MS = 45_000;

export interface RdsDataSdkClientOptions {
  /** A local Data API server (`offpeak data-api serve`); omit for AWS. */
  endpoint?: string | undefined;
  region?: string | undefined;
}

function isLocalEndpoint(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '127.0.0.1' || host === '::1' || host === '[::1]';
}

/** The local server ignores signatures (no IAM to check them against), so local calls skip SigV4's hashing. */
const unsignedForLocal = { sign: async <R>(request: R): Promise<R> => request };

/**
 * The SDK client offpeak uses: one attempt per call (the adapter decides what is
 * safe to retry) and a request timeout well above the service's 45 s.
 * `cacheMiddleware` resolves the middleware stack once per command type instead
 * of on every call (a third of the SDK's per-call CPU); middleware added to
 * `client.middlewareStack` must therefore be added before the first call.
 * The HTTP handler keeps its own keep-alive agent, reused across calls.
 */
export function createRdsDataSdkClient(options: RdsDataSdkClientOptions = {}): RDSDataClient {
  const local = options.endpoint !== undefined && isLocalEndpoint(options.endpoint);
  return new RDSDataClient({
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    // The local server ignores signatures; fixed credentials spare a credential-chain lookup.
    ...(local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, signer: unsignedForLocal } : {}),
    region: options.region ?? (local ? 'us-east-1' : undefined),
    maxAttempts: 1,
    cacheMiddleware: true,
    requestHandler: { requestTimeout: DATA_API_REQUEST_TIMEOUT_MS, connectionTimeout: 10_000 },
  });
}

export interface DataApiClientOptions {
  client: RDSDataClient;
  resourceArn: string;
  secretArn: string;
  database: string;
  retry?: Partial<RetryPolicy>;
  /** Retries of lost responses (idempotent calls) and of an unreachable endpoint; see DEFAULT_FAULT_BOUNDS. */
  faultBounds?: FaultRetryOptions['bounds'];
  sleep?: Sleep;
  /** Clock for retry deadlines (`withCallDeadline`), injectable for tests. */
  now?: () => number;
  /**
   * The service's statement timeout, which the runner plans transactional work against. 45 s on AWS; set it
   * to the local server's `statementTimeoutMs` when that is shorter.
   */
  statementTimeoutMs?: number;
  /**
   * 'JSON' asks the service for `formattedRecords` instead of typed fields. It then
   * sends no column metadata, so values stay as JSON has them (timestamps and numerics as text).
   */
  formatRecordsAs?: 'NONE' | 'JSON';
  /** Destroy `client` on close() (when the adapter built it). Default false: the caller shares it. */
  ownsClient?: boolean;
}

function toQueryResult<R>(output: ExecuteStatementCommandOutput): QueryResult<R> {
  const rows: Row[] = output.formattedRecords
    ? fromFormattedRecords(output.formattedRecords)
    : fromDataApiRecords(output.records ?? [], output.columnMetadata ?? []);
  // DML without RETURNING has no records; SELECT and RETURNING report the rows they return.
  const rowCount = rows.length > 0 ? rows.length : (output.numberOfRecordsUpdated ?? 0);
  return { rows: rows as R[], rowCount };
}

export function createDataApiClient(options: DataApiClientOptions): SqlClient {
  const { client, resourceArn, secretArn, database } = options;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const sleep = options.sleep ?? realSleep;

  /**
   * One service call: a resuming or unavailable database is waited out (within the call deadline, when there
   * is one), an unreachable endpoint is retried a few times, and a lost response only when `idempotent`.
   */
  async function send<T>(operation: string, call: () => Promise<T>, idempotent = false): Promise<T> {
    try {
      return await withFaultRetry(call, {
        policy,
        sleep,
        ...(options.now ? { now: options.now } : {}),
        deadline: callDeadline(),
        idempotent,
        classify: classifyDataApiFault,
        ...(options.faultBounds ? { bounds: options.faultBounds } : {}),
      });
    } catch (error) {
      throw mapDataApiError(error, operation);
    }
  }

  async function execute<R>(query: SqlQuery, extra: Partial<ExecuteStatementRequest> = {}): Promise<QueryResult<R>> {
    const { text, values } = query.render((i) => `:p${i}`);
    const parameters = toDataApiParameters(values);
    const json = options.formatRecordsAs === 'JSON' || query.hints.jsonRows === true;
    const input: ExecuteStatementRequest = {
      resourceArn,
      secretArn,
      database,
      sql: text,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(json ? { formatRecordsAs: 'JSON' } : { includeResultMetadata: true }),
      ...extra,
    };
    // Inside a transaction a lost response is never resent: the transaction is rolled back and its work redone.
    const idempotent = query.hints.idempotent === true && extra.transactionId === undefined;
    const output = await send('ExecuteStatement', () => client.send(new ExecuteStatementCommand(input)), idempotent);
    return toQueryResult<R>(output);
  }

  return {
    dialect: 'data-api',
    statementTimeoutMs: options.statementTimeoutMs ?? DATA_API_STATEMENT_TIMEOUT_MS,
    query: <R = Row>(query: SqlQuery) => execute<R>(query),

    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      // Resent when its response is lost: the orphaned transaction has run nothing, holds no lock, and the
      // service ends it after 3 minutes idle.
      const begun = await send('BeginTransaction', () => client.send(new BeginTransactionCommand({ resourceArn, secretArn, database })), true);
      const transactionId = begun.transactionId;
      if (!transactionId) throw new TransactionNotFoundError('Data API BeginTransaction returned no transactionId');

      /**
       * Rolls back, resending while responses are lost or the database resumes: a transaction left open holds
       * its locks until the 3-minute idle timeout. An unknown id means it has already ended (committed, rolled
       * back, or aborted), which is all a rollback wants.
       */
      const rollback = async () => {
        try {
          await send('RollbackTransaction', () => client.send(new RollbackTransactionCommand({ resourceArn, secretArn, transactionId })), true);
        } catch {
          // Nothing more to do: the service rolls the transaction back on its own after 3 minutes idle.
        }
      };

      // The service rejects a second call while one runs on the same transaction; queue them like a pg connection does.
      let queue: Promise<unknown> = Promise.resolve();
      let open = true;
      const tx: SqlExecutor = {
        dialect: 'data-api',
        query<R = Row>(query: SqlQuery): Promise<QueryResult<R>> {
          if (!open) return Promise.reject(new TransactionNotFoundError('this transaction has already ended'));
          const next = queue.then(() => execute<R>(query, { transactionId }));
          queue = next.catch(() => undefined);
          return next;
        },
      };

      let result: T;
      try {
        result = await fn(tx);
        await queue;
      } catch (error) {
        open = false;
        await queue;
        await rollback();
        throw error;
      }
      open = false;
      try {
        await send('CommitTransaction', () =>
          client.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId })),
        );
      } catch (error) {
        // Harmless if the commit did happen (the id is then unknown); frees the connection if it did not. A lost
        // COMMIT response stays a DatabaseUnavailableError with outcome 'unknown': the caller reads what committed.
        await rollback();
        throw error;
      }
      return result;
    },

    async executeLong(query: SqlQuery): Promise<LongStatementOutcome> {
      try {
        return { state: 'done', result: await execute(query, { continueAfterTimeout: true }) };
      } catch (error) {
        if (error instanceof StatementTimeoutError) return { state: 'still_running' };
        throw error;
      }
    },

    async close() {
      if (options.ownsClient) client.destroy();
    },
  };
}

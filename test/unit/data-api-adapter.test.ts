/**
 * The adapter's call sequencing: what it sends, what it retries, when it rolls back.
 * Failures the local server cannot produce on demand (a cluster resuming) are injected
 * with aws-sdk-client-mock; everything about SQL behaviour is covered by the contract
 * suite against the real server (test/integration/sql-client-contract).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  DatabaseResumingException,
  ExecuteStatementCommand,
  InternalServerErrorException,
  RDSDataClient,
  RollbackTransactionCommand,
  StatementTimeoutException,
  TransactionNotFoundException,
} from '@aws-sdk/client-rds-data';
import { withCallDeadline } from '../../lambdas/core/db/call-deadline.ts';
import { isOutcomeUnknown, isTransportFault } from '../../lambdas/core/db/data-api-errors.ts';
import { createDataApiClient, createRdsDataSdkClient } from '../../lambdas/core/db/data-api.ts';
import { sql } from '../../lambdas/core/db/sql.ts';
import { DatabaseError, DatabaseUnavailableError, StatementTimeoutError } from '../../lambdas/core/errors.ts';

const meta = { $metadata: {} };
const arns = { resourceArn: 'arn:aws:rds:us-east-1:1:cluster:c', secretArn: 'arn:aws:secretsmanager:us-east-1:1:secret:s', database: 'app' };
const sdk = new RDSDataClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const mock = mockClient(sdk);
const oneRow = { records: [[{ longValue: 1 }]], columnMetadata: [{ label: 'n', typeName: 'int4' }] };

let sleeps: number[];
const adapter = (retry = {}) =>
  createDataApiClient({ client: sdk, ...arns, retry: { maxAttempts: 4, baseDelayMs: 10, ...retry }, sleep: async (ms) => void sleeps.push(ms) });

beforeEach(() => {
  mock.reset();
  sleeps = [];
});

describe('createDataApiClient', () => {
  it('sends :p placeholders, typed parameters and asks for metadata', async () => {
    // Prepare
    mock.on(ExecuteStatementCommand).resolves(oneRow);

    // Act
    const result = await adapter().query(sql`SELECT ${1} AS n WHERE ${sql.uuid('u')}::uuid IS NOT NULL`);

    // Assess
    expect(result).toEqual({ rows: [{ n: 1 }], rowCount: 1 });
    expect(mock.commandCalls(ExecuteStatementCommand)[0]!.args[0].input).toEqual({
      ...arns,
      sql: 'SELECT :p1 AS n WHERE :p2::uuid IS NOT NULL',
      parameters: [
        { name: 'p1', value: { longValue: 1 } },
        { name: 'p2', value: { stringValue: 'u' }, typeHint: 'UUID' },
      ],
      includeResultMetadata: true,
    });
  });

  it('retries while the database resumes, with backoff through the injected sleep', async () => {
    // Prepare
    mock
      .on(ExecuteStatementCommand)
      .rejectsOnce(new DatabaseResumingException({ message: 'resuming', ...meta }))
      .rejectsOnce(new DatabaseResumingException({ message: 'resuming', ...meta }))
      .resolves(oneRow);

    // Act
    const result = await adapter().query(sql`SELECT 1 AS n`);

    // Assess
    expect(result.rows).toEqual([{ n: 1 }]);
    expect(mock.commandCalls(ExecuteStatementCommand)).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('gives up after the bounded attempts with DatabaseUnavailableError', async () => {
    mock.on(ExecuteStatementCommand).rejects(new DatabaseResumingException({ message: 'resuming', ...meta }));

    await expect(adapter().query(sql`SELECT 1`)).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(mock.commandCalls(ExecuteStatementCommand)).toHaveLength(4);
  });

  it('never resends a write after a timeout or a lost response', async () => {
    // Prepare
    mock
      .on(ExecuteStatementCommand)
      .rejectsOnce(new StatementTimeoutException({ message: 'timeout', ...meta }))
      .rejectsOnce(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    const db = adapter();

    // Act
    const timedOut = db.query(sql`UPDATE t SET n = n + 1`);
    await expect(timedOut).rejects.toBeInstanceOf(StatementTimeoutError);
    const lost = db.query(sql`UPDATE t SET n = n + 1`);

    // Assess
    await expect(lost).rejects.toThrow(/may or may not have run/);
    expect(mock.commandCalls(ExecuteStatementCommand)).toHaveLength(2);
    expect(sleeps).toEqual([]);
  });

  it('runs a transaction as Begin, calls with its id, Commit', async () => {
    // Prepare
    mock.on(BeginTransactionCommand).resolves({ transactionId: 'tx1' });
    mock.on(ExecuteStatementCommand).resolves(oneRow);
    mock.on(CommitTransactionCommand).resolves({ transactionStatus: 'Transaction Committed' });

    // Act: two calls at once are queued, since the service rejects concurrent calls on one transaction
    const result = await adapter().transaction(async (tx) => {
      const [a, b] = await Promise.all([tx.query(sql`SELECT 1 AS n`), tx.query(sql`SELECT 1 AS n`)]);
      return a.rows.length + b.rows.length;
    });

    // Assess
    expect(result).toBe(2);
    expect(mock.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input.transactionId)).toEqual(['tx1', 'tx1']);
    expect(mock.commandCalls(CommitTransactionCommand)[0]!.args[0].input).toEqual({ resourceArn: arns.resourceArn, secretArn: arns.secretArn, transactionId: 'tx1' });
    expect(mock.commandCalls(RollbackTransactionCommand)).toHaveLength(0);
  });

  it('rolls back and rethrows the original error when a statement fails, resending a rollback whose response was lost', async () => {
    // Prepare
    mock.on(BeginTransactionCommand).resolves({ transactionId: 'tx2' });
    mock.on(ExecuteStatementCommand).rejects(new DatabaseErrorException({ message: 'ERROR: duplicate key; SQLState: 23505', ...meta }));
    mock.on(RollbackTransactionCommand).rejects(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));

    // Act
    const outcome = adapter().transaction((tx) => tx.query(sql`INSERT INTO t VALUES (1)`));

    // Assess: the original error; the rollback resent up to the lost-response bound (10), then left to the idle timeout
    await expect(outcome).rejects.toSatisfy((e) => e instanceof DatabaseError && e.sqlState === '23505');
    expect(mock.commandCalls(RollbackTransactionCommand)).toHaveLength(11);
    expect(mock.commandCalls(CommitTransactionCommand)).toHaveLength(0);
  });

  it('sends continueAfterTimeout for executeLong and reports still_running on timeout', async () => {
    mock.on(ExecuteStatementCommand).rejects(new StatementTimeoutException({ message: 'timeout', ...meta }));

    const outcome = await adapter().executeLong(sql`CREATE INDEX CONCURRENTLY idx_a ON t (a)`);

    expect(outcome).toEqual({ state: 'still_running' });
    expect(mock.commandCalls(ExecuteStatementCommand)[0]!.args[0].input.continueAfterTimeout).toBe(true);
  });
});

describe('createDataApiClient under faults', () => {
  const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const internal = () => new InternalServerErrorException({ message: 'internal', ...meta });

  it('resends an idempotent statement whose response was lost (reset or 5xx), and never a plain one', async () => {
    // Prepare
    mock.on(ExecuteStatementCommand).rejectsOnce(reset()).rejectsOnce(internal()).resolves(oneRow);
    const db = adapter();

    // Act
    const read = await db.query(sql`SELECT 1 AS n`.idempotent());
    mock.reset();
    mock.on(ExecuteStatementCommand).rejectsOnce(internal()).resolves(oneRow);
    const write = db.query(sql`INSERT INTO t VALUES (1)`);

    // Assess
    expect(read.rows).toEqual([{ n: 1 }]);
    await expect(write).rejects.toSatisfy((e) => e instanceof DatabaseUnavailableError && e.context['outcome'] === 'unknown');
    expect(mock.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
  });

  it('never resends a statement inside a transaction, even an idempotent one: the transaction is rolled back', async () => {
    // Prepare
    mock.on(BeginTransactionCommand).resolves({ transactionId: 'tx3' });
    mock.on(ExecuteStatementCommand).rejects(reset());
    mock.on(RollbackTransactionCommand).resolves({ transactionStatus: 'Rollback Complete' });

    // Act
    const outcome = adapter().transaction((tx) => tx.query(sql`SELECT 1 AS n`.idempotent()));

    // Assess
    await expect(outcome).rejects.toSatisfy((e) => isOutcomeUnknown(e));
    expect(mock.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
    expect(mock.commandCalls(RollbackTransactionCommand)).toHaveLength(1);
    expect(mock.commandCalls(CommitTransactionCommand)).toHaveLength(0);
  });

  it('resends a BeginTransaction whose response was lost; a lost COMMIT is reported as outcome unknown after a rollback', async () => {
    // Prepare
    mock.on(BeginTransactionCommand).rejectsOnce(reset()).resolves({ transactionId: 'tx4' });
    mock.on(ExecuteStatementCommand).resolves(oneRow);
    mock.on(CommitTransactionCommand).rejects(reset());
    mock.on(RollbackTransactionCommand).rejects(new TransactionNotFoundException({ message: 'Transaction tx4 is not found', ...meta }));

    // Act
    const outcome = adapter().transaction((tx) => tx.query(sql`SELECT 1 AS n`));

    // Assess: one commit (never resent), one rollback (the id is gone: nothing more to do)
    await expect(outcome).rejects.toSatisfy((e) => isOutcomeUnknown(e) && (e as DatabaseUnavailableError).context['operation'] === 'CommitTransaction');
    expect(mock.commandCalls(BeginTransactionCommand)).toHaveLength(2);
    expect(mock.commandCalls(CommitTransactionCommand)).toHaveLength(1);
    expect(mock.commandCalls(RollbackTransactionCommand)).toHaveLength(1);
  });

  it('retries an unreachable endpoint a few times only (3 retries), for any statement', async () => {
    // Prepare
    mock.on(ExecuteStatementCommand).rejects(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

    // Act
    const outcome = adapter().query(sql`INSERT INTO t VALUES (1)`);

    // Assess
    await expect(outcome).rejects.toSatisfy((e) => e instanceof DatabaseUnavailableError && e.context['outcome'] === 'not_sent');
    expect(mock.commandCalls(ExecuteStatementCommand)).toHaveLength(4);
  });

  it('waits a resuming database out within the call deadline, not past it', async () => {
    // Prepare: an injected clock the injected sleep advances; the deadline 10 s ahead
    let clock = 1_000_000;
    mock.on(ExecuteStatementCommand).rejects(new DatabaseResumingException({ message: 'resuming', ...meta }));
    const db = createDataApiClient({
      client: sdk,
      ...arns,
      retry: { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 2_000, maxTotalDelayMs: 1_000 },
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    });

    // Act
    const outcome = withCallDeadline(new Date(clock + 10_000), () => db.query(sql`SELECT 1`));

    // Assess: past the policy's 3 attempts and 1 s total (which bound a call without a deadline), never past the deadline
    await expect(outcome).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(mock.commandCalls(ExecuteStatementCommand).length).toBeGreaterThan(3);
    expect(clock).toBeLessThan(1_000_000 + 10_000);
    expect(clock).toBeGreaterThanOrEqual(1_000_000 + 10_000 - 2_000);
  });

  it('never resends an aborted call (an interrupt), even an idempotent one, and it is no transport fault to reconcile', async () => {
    // Prepare
    mock.on(ExecuteStatementCommand).rejects(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));

    // Act
    const outcome = adapter().query(sql`SELECT 1 AS n`.idempotent());

    // Assess
    await expect(outcome).rejects.toSatisfy((e) => e instanceof DatabaseUnavailableError && !isTransportFault(e));
    expect(mock.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
  });

  it('says which statement timeout it plans with (45 s unless set)', () => {
    expect(adapter().statementTimeoutMs).toBe(45_000);
    expect(createDataApiClient({ client: sdk, ...arns, statementTimeoutMs: 1_000 }).statementTimeoutMs).toBe(1_000);
  });
});

describe('createRdsDataSdkClient', () => {
  it('makes one attempt per call, with a request timeout above the 45 s statement limit', async () => {
    // Act
    const client = createRdsDataSdkClient({ endpoint: 'http://127.0.0.1:1' });
    const handler = client.config.requestHandler as { configProvider?: Promise<{ requestTimeout?: number }> };

    // Assess
    expect(await client.config.maxAttempts()).toBe(1);
    expect((await handler.configProvider)?.requestTimeout).toBeGreaterThanOrEqual(60_000);
    expect(await client.config.region()).toBe('us-east-1');
    client.destroy();
  });
});

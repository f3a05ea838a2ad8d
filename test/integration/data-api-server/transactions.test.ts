import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  RollbackTransactionCommand,
  StatementTimeoutException,
  TransactionNotFoundException,
} from '@aws-sdk/client-rds-data';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { sleep, until } from '../../support/wait.ts';
import { execute, post, rejection } from './helpers.ts';
import { lacks } from '../../support/prerequisites.ts';

/** Transactions and timeouts, through the plain SDK client, with the service's limits shrunk to about a second. */
let api: TestDataApi;
const statementTimeoutMs = 1000;
const transactionIdleTimeoutMs = 1000;

beforeAll(async () => {
  api = await startTestDataApi({ statementTimeoutMs, transactionIdleTimeoutMs });
  await execute(api, { sql: 'CREATE TABLE items (id int8 PRIMARY KEY, note text)' });
});
afterAll(() => api?.dispose());

/**
 * Holds a session advisory lock on a connection of its own (PostgreSQL only), so a statement that
 * takes the same lock stays running until `release()`: the tests wait on that event, never on a
 * sleep that must outlast the statement.
 */
async function holdLock(key: number): Promise<{ waiting(): Promise<boolean>; release(): Promise<void>; end(): Promise<void> }> {
  const holder = new pg.Client({ connectionString: api.db.url! });
  await holder.connect();
  await holder.query('SELECT pg_advisory_lock($1)', [key]);
  const count = async (text: string) => Number((await holder.query<{ n: string }>(text)).rows[0]!.n);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await holder.query('SELECT pg_advisory_unlock($1)', [key]);
  };
  return {
    waiting: async () => (await count(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = ${key} AND NOT granted`)) > 0,
    release,
    /** Releases the lock if still held and closes the connection. */
    async end() {
      await release();
      await holder.end();
    },
  };
}
/** A statement that waits for advisory lock `key` and then inserts (id, note). */
const lockedInsert = (id: number, note: string, key: number) =>
  `INSERT INTO items (id, note) SELECT ${id}, '${note}' FROM (SELECT pg_advisory_xact_lock(${key})) AS l`;

async function begin(): Promise<string> {
  const out = await api.sdk.send(new BeginTransactionCommand({ resourceArn: api.resourceArn, secretArn: api.secretArn, database: api.database }));
  return out.transactionId!;
}
const commit = (transactionId: string) =>
  api.sdk.send(new CommitTransactionCommand({ resourceArn: api.resourceArn, secretArn: api.secretArn, transactionId }));
const rollback = (transactionId: string) =>
  api.sdk.send(new RollbackTransactionCommand({ resourceArn: api.resourceArn, secretArn: api.secretArn, transactionId }));

async function insert(id: number, transactionId?: string) {
  return execute(api, {
    sql: 'INSERT INTO items (id, note) VALUES (:id, :note)',
    parameters: [{ name: 'id', value: { longValue: id } }, { name: 'note', value: { stringValue: `item ${id}` } }],
    transactionId,
  });
}

async function exists(id: number): Promise<boolean> {
  const out = await execute(api, { sql: 'SELECT count(*) FROM items WHERE id = :id', parameters: [{ name: 'id', value: { longValue: id } }] });
  return out.records?.[0]?.[0]?.longValue === 1;
}

describe('transactions', () => {
  it('makes writes visible on commit', async () => {
    // Prepare
    const tx = await begin();
    await insert(1, tx);

    // Act
    const out = await commit(tx);

    // Assess
    expect(tx).toMatch(/^[A-Za-z0-9+/=]{20,}$/);
    expect(out.transactionStatus).toBe('Transaction Committed');
    expect(await exists(1)).toBe(true);
  });

  it('discards writes on rollback', async () => {
    // Prepare
    const tx = await begin();
    await insert(2, tx);

    // Act
    const out = await rollback(tx);

    // Assess
    expect(out.transactionStatus).toBe('Rollback Complete');
    expect(await exists(2)).toBe(false);
  });

  it.skipIf(lacks('postgresql'))(
    'isolates an open transaction from other calls (real PostgreSQL only: PGlite is one connection, so other calls wait)',
    async () => {
      // Prepare
      const tx = await begin();
      await insert(3, tx);

      // Act
      const outside = await exists(3);
      const inside = await execute(api, { sql: 'SELECT count(*) FROM items WHERE id = 3', transactionId: tx });
      await commit(tx);

      // Assess
      expect(outside).toBe(false);
      expect(inside.records?.[0]?.[0]).toEqual({ longValue: 1 });
      expect(await exists(3)).toBe(true);
    },
  );

  it('a transaction idle past the timeout (3 minutes; shrunk here) → rolled back, TransactionNotFoundException "Transaction may be expired" [troubleshooting: Transaction isn\'t found · high]', async () => {
    // Prepare
    const tx = await begin();
    await insert(4, tx);

    // Act
    await sleep(transactionIdleTimeoutMs + 600);
    const error = await rejection(insert(5, tx));

    // Assess
    expect(error).toBeInstanceOf(TransactionNotFoundException);
    expect(error.$metadata?.httpStatusCode).toBe(404);
    expect(error.message).toBe(`Transaction ${tx} is not found: Transaction may be expired`);
    expect(await exists(4)).toBe(false);
  });

  it('answers an unknown transaction id with TransactionNotFoundException', async () => {
    // Act
    const onExecute = await rejection(insert(6, 'bm90LWEtdHJhbnNhY3Rpb24='));
    const onCommit = await rejection(commit('bm90LWEtdHJhbnNhY3Rpb24='));

    // Assess
    expect(onExecute).toBeInstanceOf(TransactionNotFoundException);
    expect(onExecute.message).toContain('bm90LWEtdHJhbnNhY3Rpb24=');
    expect(onCommit).toBeInstanceOf(TransactionNotFoundException);
  });

  it('cannot commit or reuse a transaction id twice', async () => {
    // Prepare
    const tx = await begin();
    await commit(tx);

    // Act
    const error = await rejection(commit(tx));

    // Assess
    expect(error).toBeInstanceOf(TransactionNotFoundException);
  });

  it('an error in a transaction aborts it → TransactionNotFoundException "…aborted due to an error from a previous call" on the next call [troubleshooting: Transaction isn\'t found · high]', async () => {
    // Prepare
    const tx = await begin();
    await insert(7, tx);
    const failed = await rejection(insert(7, tx)); // duplicate key (within the transaction: no other test's row needed)

    // Act
    const onNext = await rejection(insert(9, tx));
    const onCommit = await rejection(commit(tx));
    const onRollback = await rejection(rollback(tx));

    // Assess
    expect(failed).toBeInstanceOf(DatabaseErrorException);
    expect(failed.message).toMatch(/duplicate key value violates unique constraint "items_pkey"[\s\S]*SQLState: 23505$/);
    for (const error of [onNext, onCommit, onRollback]) {
      expect(error).toBeInstanceOf(TransactionNotFoundException);
      expect(error.$metadata?.httpStatusCode).toBe(404);
      expect(error.message).toBe(`Transaction ${tx} is not found: Transaction has been aborted due to an error from a previous call`);
    }
    expect(await exists(7)).toBe(false);
    expect(await exists(9)).toBe(false);
  });

  it('a committed transaction id → TransactionNotFoundException "…resulted in a termination of your transaction" [troubleshooting: Transaction isn\'t found · high]', async () => {
    // Prepare
    const tx = await begin();
    await commit(tx);

    // Act
    const error = await rejection(insert(10, tx));

    // Assess
    expect(error).toBeInstanceOf(TransactionNotFoundException);
    expect(error.message).toBe(`Transaction ${tx} is not found: One previous call resulted in a termination of your transaction`);
  });

  it('keeps a transaction usable after a request rejected before it ran', async () => {
    // Prepare: a committed row of its own, which the refused multi-statement DELETE must leave alone
    await insert(80);
    const tx = await begin();
    await insert(8, tx);

    // Act
    const malformed = await post(api, '/Execute', JSON.stringify({
      resourceArn: api.resourceArn, secretArn: api.secretArn, transactionId: tx, sql: 'SELECT :x AS x', parameters: [{ name: 'x', value: {} }],
    }));
    const multi = await rejection(execute(api, { sql: 'DELETE FROM items; SELECT 1', transactionId: tx }));
    await commit(tx);

    // Assess
    expect(malformed).toMatchObject({ status: 400, errorType: 'SerializationException' });
    expect(multi.name).toBe('ValidationException');
    expect(await exists(8)).toBe(true);
    expect(await exists(80)).toBe(true);
  });

  it('refuses CREATE INDEX CONCURRENTLY inside a transaction, as PostgreSQL does', async () => {
    // Prepare
    const tx = await begin();

    // Act
    const error = await rejection(execute(api, { sql: 'CREATE INDEX CONCURRENTLY idx_items_note ON items (note)', transactionId: tx }));

    // Assess
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toMatch(/cannot run inside a transaction block; SQLState: 25001$/);
  });

  it.skipIf(lacks('postgresql'))(
    'a second call while the transaction runs one → DatabaseErrorException "Transaction is still running a query", transaction intact [troubleshooting: DatabaseErrorException: Transaction is still running a query · high]',
    async () => {
      // Prepare: the first call stays running, waiting for a lock this test holds
      const lock = await holdLock(9101);
      const tx = await begin();
      const slow = execute(api, { sql: `SELECT pg_advisory_xact_lock(9101)`, transactionId: tx });
      await until('the first call to wait for the lock', lock.waiting);

      // Act
      const second = await rejection(insert(30, tx));
      await lock.end();
      await slow;
      await insert(31, tx);
      await commit(tx);

      // Assess
      expect(second).toBeInstanceOf(DatabaseErrorException);
      expect(second.$metadata?.httpStatusCode).toBe(400);
      expect(second.message).toBe('Transaction is still running a query');
      expect(await exists(30)).toBe(false);
      expect(await exists(31)).toBe(true);
    },
  );
});

describe('statement timeout', () => {
  const slowInsert = (id: number, continueAfterTimeout: boolean) =>
    execute(api, {
      sql: `INSERT INTO items (id, note) SELECT :id, 'slow' FROM pg_sleep(${(statementTimeoutMs + 400) / 1000})`,
      parameters: [{ name: 'id', value: { longValue: id } }],
      continueAfterTimeout,
    });

  it('fails a statement over the timeout with StatementTimeoutException', async () => {
    if (api.db.kind === 'pg') {
      // Prepare: the statement waits for a lock this test holds, so it cannot finish before the reply
      const lock = await holdLock(9102);
      try {
        // Act
        const error = await rejection(execute(api, { sql: lockedInsert(20, 'slow', 9102) }));
        // The lock is still held, so the statement can only stop waiting by being cancelled.
        await until('the statement to be cancelled', async () => !(await lock.waiting()));
        await lock.release();

        // Assess: the call came back while the statement could not have finished (the lock was held),
        // and the statement was cancelled, so releasing the lock inserted nothing
        expect(error).toBeInstanceOf(StatementTimeoutException);
        expect((error as StatementTimeoutException).dbConnectionId).toEqual(expect.any(Number));
        expect(error.message).toMatch(/was cancelled/);
        expect(await exists(20)).toBe(false);
      } finally {
        await lock.end();
      }
    } else {
      // PGlite cannot cancel: the statement (longer than the timeout) runs to the end, then the call reports the timeout.
      const error = await rejection(slowInsert(20, false));
      expect(error).toBeInstanceOf(StatementTimeoutException);
      expect((error as StatementTimeoutException).dbConnectionId).toEqual(expect.any(Number));
      expect(error.message).toMatch(/cannot cancel/);
      expect(await exists(20)).toBe(true);
    }
  });

  it('with continueAfterTimeout, fails the call at the deadline but lets the statement finish', async () => {
    if (api.db.kind === 'pg') {
      // Prepare
      const lock = await holdLock(9103);
      try {
        // Act
        const error = await rejection(execute(api, { sql: lockedInsert(21, 'slow', 9103), continueAfterTimeout: true }));
        const waitingAtReply = await lock.waiting();
        const visibleAtReply = await exists(21);
        await lock.release();

        // Assess: replied at the deadline while the statement still waited on its connection; it then finished
        expect(error).toBeInstanceOf(StatementTimeoutException);
        expect(error.message).toMatch(/keeps running/);
        expect({ waitingAtReply, visibleAtReply }).toEqual({ waitingAtReply: true, visibleAtReply: false });
        await until('the continued statement to insert its row', () => exists(21));
      } finally {
        await lock.end();
      }
    } else {
      const error = await rejection(slowInsert(21, true));
      expect(error).toBeInstanceOf(StatementTimeoutException);
      expect(await exists(21)).toBe(true);
    }
  });

  it.skipIf(lacks('postgresql'))(
    'a continued statement that fails after the timeout aborts its transaction → TransactionNotFoundException on commit [troubleshooting: Transaction isn\'t found · high]',
    async () => {
      // Prepare
      const tx = await begin();
      await insert(22, tx);

      // Act: the duplicate id fails on the server after the call has already timed out (it waits
      // for a lock this test releases only after the reply)
      const lock = await holdLock(9104);
      const timedOut = await rejection(execute(api, { sql: lockedInsert(1, 'dup', 9104), transactionId: tx, continueAfterTimeout: true }));
      await lock.release();
      let onCommit: Error | undefined;
      await until('the continued statement to finish (commit no longer refused as busy)', async () => {
        onCommit = await rejection(commit(tx));
        return onCommit.message !== 'Transaction is still running a query';
      });
      await lock.end();

      // Assess
      expect(timedOut).toBeInstanceOf(StatementTimeoutException);
      expect(onCommit).toBeInstanceOf(TransactionNotFoundException);
      expect(onCommit!.message).toBe(`Transaction ${tx} is not found: Transaction has been aborted due to an error from a previous call`);
      expect(await exists(22)).toBe(false);
    },
  );

  it('still serves after timeouts', async () => {
    // Act
    const out = await execute(api, { sql: 'SELECT 1 AS alive' });

    // Assess
    expect(out.records).toEqual([[{ longValue: 1 }]]);
  });
});

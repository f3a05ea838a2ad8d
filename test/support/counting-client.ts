import type { SqlClient, SqlExecutor } from '../../lambdas/core/db/client.ts';

/**
 * A SqlClient decorator that counts SQL round trips: every query and executeLong is one, and a transaction
 * adds two (BEGIN and COMMIT/ROLLBACK on pg; BeginTransaction and CommitTransaction calls on the Data API).
 */
export interface CountingClient extends SqlClient {
  /** Every round trip, transaction control included. */
  readonly count: number;
  /** SQL statements only (query and executeLong calls, inside transactions or not). */
  readonly statements: number;
}

export function countingClient(inner: SqlClient): CountingClient {
  let count = 0;
  let statements = 0;
  return {
    dialect: inner.dialect,
    get count() {
      return count;
    },
    get statements() {
      return statements;
    },
    query(query) {
      count++;
      statements++;
      return inner.query(query);
    },
    executeLong(query) {
      count++;
      statements++;
      return inner.executeLong(query);
    },
    transaction(fn) {
      count += 2;
      return inner.transaction((tx) => {
        const counted: SqlExecutor = {
          dialect: tx.dialect,
          query(query) {
            count++;
            statements++;
            return tx.query(query);
          },
        };
        return fn(counted);
      });
    },
    close: () => inner.close(),
  };
}

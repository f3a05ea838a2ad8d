import { DatabaseError } from '../errors.ts';

/**
 * SQLSTATEs PostgreSQL raises when two sessions run the same `CREATE … IF NOT EXISTS` at once: the
 * IF NOT EXISTS check passes in both, and the loser hits a catalog unique index (23505), finds the
 * relation or schema made meanwhile (42P07, 42P06), finds the table's row type made (42710), or finds
 * the function made between its own existence check and its CREATE FUNCTION (42723).
 * Retrying the idempotent DDL then succeeds.
 */
export const CONCURRENT_CREATE_SQLSTATES: ReadonlySet<string> = new Set(['23505', '42P07', '42P06', '42710', '42723']);

/** Lock not available (55P03, lock_timeout) and deadlock detected (40P01): the statement may succeed if retried. */
export const LOCK_RETRY_SQLSTATES: ReadonlySet<string> = new Set(['55P03', '40P01']);

/** The SQLSTATE of a database error, if it is one. */
export const sqlStateOf = (error: unknown): string | undefined => (error instanceof DatabaseError ? error.sqlState : undefined);

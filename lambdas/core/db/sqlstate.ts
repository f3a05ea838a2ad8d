/**
 * SQLSTATEs PostgreSQL raises when two sessions run the same `CREATE … IF NOT EXISTS` at once: the
 * IF NOT EXISTS check passes in both, and the loser hits a catalog unique index (23505), finds the
 * relation or schema made meanwhile (42P07, 42P06), or finds the table's row type made (42710).
 * Retrying the idempotent DDL then succeeds.
 */
export const CONCURRENT_CREATE_SQLSTATES: ReadonlySet<string> = new Set(['23505', '42P07', '42P06', '42710']);

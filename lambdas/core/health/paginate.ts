import type { SqlExecutor } from '../db/client.ts';
import { sql, type SqlQuery } from '../db/sql.ts';

/**
 * Keyset pagination that keeps every Data API response under its 1 MiB limit.
 *
 * A family query yields a bigint key column `_k` (unique, the keyset order) and the
 * columns it returns. The wrapper takes the rows after the cursor in key order and
 * cuts the page at `pageRows` rows or when the running sum of each row's *estimated
 * wire size* passes `pageBytes`, whichever comes first (a page always holds at least
 * one row; a single row is bounded by the Data API's own 64 KB row limit).
 *
 * The estimate is an upper bound of the Data API's JSON record encoding: every field
 * is an object like `{"stringValue":"…"}` (17 bytes of envelope with its comma) or
 * `{"longValue":n}`; a string costs its JSON-escaped length, plus 4 bytes per extra
 * UTF-8 byte in case the encoder writes non-ASCII as \uXXXX. Column metadata and the
 * response envelope are not counted: `pageBytes` leaves room for them.
 */

export type ColumnKind = 'text' | 'long' | 'bool' | 'timestamp' | 'json';

export interface PagedColumn {
  name: string;
  kind: ColumnKind;
}

export interface PageOptions {
  pageRows: number;
  pageBytes: number;
}

/** Upper bound of one field's encoded size, as an SQL expression over `f.<name>`. */
function fieldBytes(column: PagedColumn) {
  const ref = sql`f.${sql.ident(column.name)}`;
  switch (column.kind) {
    case 'long':
      return sql`coalesce(octet_length((${ref})::text) + 15, 16)`; // {"longValue":n}, or {"isNull":true},
    case 'bool':
      return sql`24`; // {"booleanValue":false},
    case 'timestamp':
      return sql`48`; // {"stringValue":"2026-01-01 00:00:00.123456"},
    case 'text':
    case 'json': {
      const text = column.kind === 'json' ? sql`(${ref})::text` : ref;
      // {"stringValue":…}, around the JSON-escaped text, or {"isNull":true},
      return sql`coalesce(octet_length(to_json(${text})::text) + 4 * (octet_length(${text}) - char_length(${text})) + 17, 16)`;
    }
  }
}

function pageQuery(family: SqlQuery, columns: readonly PagedColumn[], after: number, options: PageOptions): SqlQuery {
  // 3: the row's brackets and comma; then the _k key and the _last marker, then the columns.
  const rowBytes = sql.join([sql`3`, fieldBytes({ name: '_k', kind: 'long' }), sql`16`, ...columns.map(fieldBytes)], ' + ');
  const selected = sql.join(columns.map((c) => sql`p.${sql.ident(c.name)}`));
  return sql`SELECT p._k, ${selected}, CASE WHEN p._rn = p._n THEN true END AS _last
    FROM (
      SELECT f.*,
        row_number() OVER w AS _rn,
        count(*) OVER () AS _n,
        sum(${rowBytes}) OVER w AS _bytes
      FROM (${family}) f
      WHERE f._k > ${after}::bigint
      WINDOW w AS (ORDER BY f._k)
    ) p
    WHERE p._rn <= ${options.pageRows}::bigint AND (p._rn = 1 OR p._bytes <= ${options.pageBytes}::bigint)
    ORDER BY p._k`;
}

export interface PagedResult<R> {
  rows: R[];
  /** Statements sent. */
  roundTrips: number;
}

/** Runs `family` page by page until the last row; each page is one statement. */
export async function fetchAllPages<R extends Record<string, unknown>>(
  client: SqlExecutor,
  family: SqlQuery,
  columns: readonly PagedColumn[],
  options: PageOptions,
): Promise<PagedResult<R>> {
  const rows: R[] = [];
  let after = -1;
  let roundTrips = 0;
  for (;;) {
    const page = await client.query<R & { _k: number; _last: boolean | null }>(pageQuery(family, columns, after, options));
    roundTrips++;
    const last = page.rows[page.rows.length - 1];
    for (const row of page.rows) rows.push(row);
    if (last === undefined || last._last === true) return { rows, roundTrips };
    after = Number(last._k);
  }
}

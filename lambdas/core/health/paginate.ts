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

/** Upper bound of one field's encoded size, as an SQL expression over `ref` (a NULL ref costs {"isNull":true},). */
function fieldBytes(ref: SqlQuery, kind: ColumnKind): SqlQuery {
  switch (kind) {
    case 'long':
      return sql`coalesce(octet_length((${ref})::text) + 15, 16)`; // {"longValue":n}, or {"isNull":true},
    case 'bool':
      return sql`24`; // {"booleanValue":false},
    case 'timestamp':
      return sql`48`; // {"stringValue":"2026-01-01 00:00:00.123456"},
    case 'text':
    case 'json': {
      const text = kind === 'json' ? sql`(${ref})::text` : ref;
      // {"stringValue":…}, around the JSON-escaped text, or {"isNull":true},
      return sql`coalesce(octet_length(to_json(${text})::text) + 4 * (octet_length(${text}) - char_length(${text})) + 17, 16)`;
    }
  }
}

/**
 * The estimated wire size of one page row: its brackets and comma, the `_k` key, the
 * `_last` marker and the columns, each given as an SQL expression.
 */
export function estimatedRowBytes(key: SqlQuery, columns: readonly { expr: SqlQuery; kind: ColumnKind }[]): SqlQuery {
  return sql.join([sql`3`, fieldBytes(key, 'long'), sql`16`, ...columns.map((c) => fieldBytes(c.expr, c.kind))], ' + ');
}

/**
 * A lower bound of `estimatedRowBytes` over text columns, cheap enough to sum over a whole
 * catalog: a JSON string is at least its raw bytes and two quotes, so no to_json is needed.
 * A family that pre-selects its page (see `CursorFamily`) feeds it lower bounds of its
 * columns to find the rows that can possibly fit.
 */
export function rowBytesLowerBound(key: SqlQuery, textColumns: readonly SqlQuery[]): SqlQuery {
  return sql.join([sql`3`, fieldBytes(key, 'long'), sql`16`, ...textColumns.map((t) => sql`coalesce(octet_length(${t}) + 19, 16)`)], ' + ');
}

/**
 * A family that knows the cursor: it returns only rows after `after` and may pre-select
 * a superset of the page (e.g. by a lower bound of each row's size) so that costly
 * columns are computed for those rows alone. It must return `_remaining`, the number of
 * rows after the cursor before that pre-selection, so the last page is still known.
 */
export type CursorFamily = (after: number, options: PageOptions) => SqlQuery;

function pageQuery(family: SqlQuery | CursorFamily, columns: readonly PagedColumn[], after: number, options: PageOptions): SqlQuery {
  const rowBytes = estimatedRowBytes(
    sql`f._k`,
    columns.map((c) => ({ expr: sql`f.${sql.ident(c.name)}`, kind: c.kind })),
  );
  const selected = sql.join(columns.map((c) => sql`p.${sql.ident(c.name)}`));
  const source = typeof family === 'function' ? family(after, options) : family;
  const remaining = typeof family === 'function' ? sql`max(f._remaining) OVER ()` : sql`count(*) OVER ()`;
  const query = sql`SELECT p._k, ${selected}, CASE WHEN p._rn = p._n THEN true END AS _last
    FROM (
      SELECT f.*,
        row_number() OVER w AS _rn,
        ${remaining} AS _n,
        sum(${rowBytes}) OVER w AS _bytes
      FROM (${source}) f
      WHERE f._k > ${after}::bigint
      WINDOW w AS (ORDER BY f._k)
    ) p
    WHERE p._rn <= ${options.pageRows}::bigint AND (p._rn = 1 OR p._bytes <= ${options.pageBytes}::bigint)
    ORDER BY p._k`;
  // Text, integer and boolean columns read the same from JSON rows, which cost the Data API path far less
  // to decode. A JSON row of short column names is smaller than the typed fields the size estimate bounds,
  // unless its text is mostly double quotes (escaped twice inside formattedRecords); the page budget leaves
  // a quarter of the 1 MiB limit for that.
  return columns.every((c) => c.kind === 'text' || c.kind === 'long' || c.kind === 'bool') ? query.withJsonRows() : query;
}

export interface PagedResult<R> {
  rows: R[];
  /** Statements sent. */
  roundTrips: number;
}

/** Runs `family` page by page until the last row; each page is one statement. */
export async function fetchAllPages<R extends Record<string, unknown>>(
  client: SqlExecutor,
  family: SqlQuery | CursorFamily,
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

/**
 * The `sql` tagged template. Values never get spliced into SQL text: each one
 * becomes a placeholder that the adapter renders its own way ($1 for pg and
 * PGlite, :p1 for the Data API). Identifiers go through `sql.ident`.
 */

/** A value with an explicit type, for where JS alone is ambiguous (uuid, decimal, json, date). */
export interface TypedValue {
  readonly kind: 'typed';
  readonly type: 'uuid' | 'decimal' | 'json' | 'date' | 'time' | 'timestamp';
  readonly value: string;
}

/**
 * What may be bound as a parameter. Arrays are deliberately absent: the Data API
 * rejects array parameters, so pass `sql.json([...])` and unnest it in SQL
 * (`jsonb_array_elements_text(${sql.json(xs)})`).
 */
export type SqlValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Date
  | Uint8Array
  | TypedValue;

type Part = string | { readonly param: SqlValue };

/** What a statement's author knows that lets an adapter send it more cheaply. Results are the same either way. */
export interface QueryHints {
  /**
   * The same text runs many times (ledger writes): an adapter that can keep the parsed and planned
   * statement on its connection does (node-postgres, as a named prepared statement).
   */
  repeated?: boolean;
  /**
   * Every result column is text, boolean or an integer below 2^53, so rows read the same from a JSON
   * document: the Data API adapter asks for `formatRecordsAs: 'JSON'`, one string the SDK does not take
   * apart field by field (about 40 % of a large report's transport time here), and a smaller response.
   */
  jsonRows?: boolean;
  /**
   * Running the statement twice does no harm (a read, a lease write, an upsert to the same value): when its
   * response is lost, an adapter that cannot tell whether it ran (the Data API) may send it again. Never set
   * it on a statement whose second run would differ (an insert of a new event, a migration step).
   */
  idempotent?: boolean;
}

export class SqlQuery {
  /** Text chunks and parameters in order; adjacent text is merged. */
  readonly parts: readonly Part[];
  /** How the statement may be sent; adapters that cannot use a hint ignore it. See `QueryHints`. */
  readonly hints: QueryHints;

  constructor(parts: readonly Part[], hints: QueryHints = {}) {
    this.hints = hints;
    const merged: Part[] = [];
    for (const part of parts) {
      const last = merged[merged.length - 1];
      if (typeof part === 'string' && typeof last === 'string') merged[merged.length - 1] = last + part;
      else if (part !== '') merged.push(part);
    }
    this.parts = merged;
  }

  /** Text with `placeholder(i)` (1-based) in place of each parameter. */
  render(placeholder: (index: number) => string): { text: string; values: SqlValue[] } {
    const values: SqlValue[] = [];
    let text = '';
    for (const part of this.parts) {
      if (typeof part === 'string') text += part;
      else {
        values.push(part.param);
        text += placeholder(values.length);
      }
    }
    return { text, values };
  }

  /** The statement as PostgreSQL text with `$n` placeholders: for logs and previews. */
  toString(): string {
    return this.render((i) => `$${i}`).text;
  }

  /** This query, marked as one whose text runs many times with different values (`QueryHints.repeated`). */
  repeatedly(): SqlQuery {
    return new SqlQuery(this.parts, { ...this.hints, repeated: true });
  }

  /** This query, marked as returning only JSON-safe columns (`QueryHints.jsonRows`). */
  withJsonRows(): SqlQuery {
    return new SqlQuery(this.parts, { ...this.hints, jsonRows: true });
  }

  /** This query, marked as safe to run twice (`QueryHints.idempotent`). */
  idempotent(): SqlQuery {
    return new SqlQuery(this.parts, { ...this.hints, idempotent: true });
  }

  /** True when the query has no parameters, so its text can be shown or run verbatim. */
  get isStatic(): boolean {
    return this.parts.every((p) => typeof p === 'string');
  }
}

class Identifier {
  constructor(readonly quoted: string) {}
}

class Raw {
  constructor(readonly text: string) {}
}

/** Double-quotes one identifier, doubling embedded quotes. Accepts `schema.name` only via `qualified`. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new TypeError('an SQL identifier cannot be empty');
  if (name.includes('\0')) throw new TypeError('an SQL identifier cannot contain a NUL byte');
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Key words `quote_ident` quotes: every category of `pg_get_keywords()` but unreserved (reserved,
 * column-name and type/function-name key words), as of PostgreSQL 17 — a superset of 15's.
 * test/integration/sql-client-contract checks it against the server's own list.
 */
const QUOTED_KEYWORDS: ReadonlySet<string> = new Set(
  `all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean both case
  cast char character check coalesce collate collation column concurrently constraint create cross
  current_catalog current_date current_role current_schema current_time current_timestamp current_user dec
  decimal default deferrable desc distinct do else end except exists extract false fetch float for foreign
  freeze from full grant greatest group grouping having ilike in initially inner inout int integer intersect
  interval into is isnull join json json_array json_arrayagg json_exists json_object json_objectagg json_query
  json_scalar json_serialize json_table json_value lateral leading least left like limit localtime
  localtimestamp merge_action national natural nchar none normalize not notnull null nullif numeric offset on
  only or order out outer overlaps overlay placing position precision primary real references returning right
  row select session_user setof similar smallint some substring symmetric system_user table tablesample then
  time timestamp to trailing treat trim true union unique user using values varchar variadic verbose when where
  window with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot
  xmlserialize xmltable`.split(/\s+/),
);

/**
 * An identifier quoted only where PostgreSQL needs it, exactly as `quote_ident` does (lower-case
 * letters, digits and underscores, not starting with a digit, and not a key word that needs
 * quoting), so generated statements stay readable. The one quoter for builders and previews.
 */
export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !QUOTED_KEYWORDS.has(name) ? name : quoteIdent(name);
}

/**
 * A possibly qualified name as PostgreSQL reads it (`schema.table`, `"My Schema"."T"`, `Users`):
 * unquoted parts are folded to lower case, quoted parts keep their case and may hold dots and
 * doubled quotes. Returns the parts; throws a TypeError naming the text when it is not a name.
 */
export function parseQualifiedName(text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new TypeError(`${JSON.stringify(text)} is not an SQL name (${why}): write table or schema.table, double-quoting parts with capitals or other characters`);
  };
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '"') {
      let part = '';
      for (i++; ; i++) {
        if (i >= text.length) fail('unterminated quote');
        if (text[i] === '"') {
          if (text[i + 1] !== '"') break;
          i++;
        }
        part += text[i];
      }
      i++;
      if (part === '') fail('empty quoted part');
      parts.push(part);
    } else {
      const m = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(text.slice(i));
      if (!m) fail(i >= text.length ? 'a part is missing' : `unexpected ${JSON.stringify(text[i])}`);
      parts.push(m![0].replace(/[A-Z]+/g, (c) => c.toLowerCase()));
      i += m![0].length;
    }
    while (text[i] === ' ') i++;
    if (i === text.length) return parts;
    if (text[i] !== '.') fail(`unexpected ${JSON.stringify(text[i])}`);
    i++;
  }
}

/** Single-quotes a string literal, for statements that cannot take parameters (DDL previews, SET). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new TypeError('an SQL literal cannot contain a NUL byte');
  return `'${value.replaceAll("'", "''")}'`;
}

function toParts(strings: TemplateStringsArray | readonly string[], values: readonly unknown[]): Part[] {
  const parts: Part[] = [];
  strings.forEach((chunk, i) => {
    parts.push(chunk);
    if (i < values.length) parts.push(...fragmentParts(values[i]));
  });
  return parts;
}

function fragmentParts(value: unknown): Part[] {
  if (value instanceof SqlQuery) return [...value.parts];
  if (value instanceof Identifier) return [value.quoted];
  if (value instanceof Raw) return [value.text];
  if (Array.isArray(value)) {
    throw new TypeError('arrays cannot be SQL parameters (the Data API rejects them): use sql.json([...]) and unnest in SQL, or sql.join for a list');
  }
  if (value === undefined) throw new TypeError('undefined cannot be an SQL parameter: use null');
  return [{ param: value as SqlValue }];
}

export interface SqlTag {
  (strings: TemplateStringsArray, ...values: unknown[]): SqlQuery;
  /** A quoted identifier; several names make a qualified one: ident('offpeak', 'runs'). */
  ident(...names: string[]): Identifier;
  /** Trusted SQL text, spliced verbatim. Never pass user input. */
  raw(text: string): Raw;
  /** Joins fragments or values with a separator (default ", "). */
  join(items: readonly unknown[], separator?: string): SqlQuery;
  uuid(value: string): TypedValue;
  decimal(value: string | number): TypedValue;
  json(value: unknown): TypedValue;
  date(value: string): TypedValue;
  time(value: string): TypedValue;
  timestamp(value: string): TypedValue;
}

export const sql: SqlTag = Object.assign(
  (strings: TemplateStringsArray, ...values: unknown[]) => new SqlQuery(toParts(strings, values)),
  {
    ident: (...names: string[]) => new Identifier(names.map(quoteIdent).join('.')),
    raw: (text: string) => new Raw(text),
    join(items: readonly unknown[], separator = ', ') {
      const parts: Part[] = [];
      items.forEach((item, i) => {
        if (i > 0) parts.push(separator);
        parts.push(...fragmentParts(item));
      });
      return new SqlQuery(parts);
    },
    uuid: (value: string): TypedValue => ({ kind: 'typed', type: 'uuid', value }),
    decimal: (value: string | number): TypedValue => ({ kind: 'typed', type: 'decimal', value: String(value) }),
    json: (value: unknown): TypedValue => ({ kind: 'typed', type: 'json', value: JSON.stringify(value) }),
    date: (value: string): TypedValue => ({ kind: 'typed', type: 'date', value }),
    time: (value: string): TypedValue => ({ kind: 'typed', type: 'time', value }),
    timestamp: (value: string): TypedValue => ({ kind: 'typed', type: 'timestamp', value }),
  },
);

export function isTypedValue(value: unknown): value is TypedValue {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'typed';
}

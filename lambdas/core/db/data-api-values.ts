import type { ArrayValue, ColumnMetadata, Field, SqlParameter } from '@aws-sdk/client-rds-data';
import type { Row } from './client.ts';
import { isTypedValue, type SqlValue, type TypedValue } from './sql.ts';

/**
 * Value mapping between offpeak's SqlValue / canonical row values (client.ts) and the
 * Data API's SqlParameter / Field unions. No I/O here, so it is unit-testable alone.
 */

const typedHints = {
  uuid: 'UUID',
  decimal: 'DECIMAL',
  json: 'JSON',
  date: 'DATE',
  time: 'TIME',
  timestamp: 'TIMESTAMP',
} as const satisfies Record<TypedValue['type'], SqlParameter['typeHint']>;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC: the only timestamp shape the Data API accepts with the TIMESTAMP hint. */
export function formatDataApiTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new TypeError('an invalid Date cannot be an SQL parameter');
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new TypeError(`a Date in year ${year} cannot be sent through the Data API (years 0000-9999 only)`);
  return (
    `${pad(year, 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}`
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** One parameter value → the Data API's `{ value, typeHint }`. Throws a TypeError naming what to do instead. */
export function toDataApiParameter(name: string, value: SqlValue | Record<string, unknown>): SqlParameter {
  if (value === null) return { name, value: { isNull: true } };
  if (Array.isArray(value)) {
    throw new TypeError(`parameter :${name} is an array; the Data API rejects array parameters: pass sql.json([...]) and unnest it in SQL`);
  }
  switch (typeof value) {
    case 'boolean':
      return { name, value: { booleanValue: value } };
    case 'string':
      return { name, value: { stringValue: value } };
    case 'number':
      if (!Number.isFinite(value)) {
        throw new TypeError(`parameter :${name} is ${value}; JSON cannot carry it: pass sql.decimal('${value}') and cast in SQL`);
      }
      return Number.isSafeInteger(value) ? { name, value: { longValue: value } } : { name, value: { doubleValue: value } };
    case 'bigint':
      // longValue is a JSON number: past 2^53 it would silently round, so send the exact digits as DECIMAL.
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? { name, value: { longValue: Number(value) } }
        : { name, value: { stringValue: value.toString() }, typeHint: 'DECIMAL' };
  }
  if (value instanceof Date) return { name, value: { stringValue: formatDataApiTimestamp(value) }, typeHint: 'TIMESTAMP' };
  if (value instanceof Uint8Array) return { name, value: { blobValue: value } };
  if (isTypedValue(value)) return { name, value: { stringValue: value.value }, typeHint: typedHints[value.type] };
  if (isPlainObject(value)) return { name, value: { stringValue: JSON.stringify(value) }, typeHint: 'JSON' };
  throw new TypeError(`parameter :${name} has an unsupported type (${Object.prototype.toString.call(value)})`);
}

/** Parameters named p1, p2… to match the `:p1` placeholders the adapter renders. */
export function toDataApiParameters(values: readonly SqlValue[]): SqlParameter[] {
  return values.map((value, i) => toDataApiParameter(`p${i + 1}`, value));
}

// ---------------------------------------------------------------- results

const TIMESTAMP_TEXT = /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d(?::?\d\d){0,2})?$/;

/** Parses the service's timestamp text; with no zone it is UTC (timestamptz comes back in UTC). */
export function parseDataApiTimestamp(text: string): Date | string {
  const m = TIMESTAMP_TEXT.exec(text);
  if (!m) return text; // 'infinity', BC dates: keep PostgreSQL's text rather than guess
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  const ms = frac.padEnd(3, '0').slice(0, 3);
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}`;
  if (!zone || zone === 'Z') return new Date(`${iso}Z`);
  const [, sign, hh = '00', mm = '00'] = /^([+-])(\d\d):?(\d\d)?/.exec(zone) ?? [];
  return new Date(`${iso}${sign}${hh}:${mm}`);
}

/** Canonical kinds a column's typeName maps to (see client.ts). */
type Kind = 'number' | 'decimal' | 'timestamp' | 'json' | 'bool' | 'bytes' | 'text';

const kinds: Record<string, Kind> = {
  int2: 'number',
  int4: 'number',
  int8: 'number',
  oid: 'number',
  float4: 'number',
  float8: 'number',
  serial: 'number',
  bigserial: 'number',
  numeric: 'decimal',
  timestamp: 'timestamp',
  timestamptz: 'timestamp',
  json: 'json',
  jsonb: 'json',
  bool: 'bool',
  bytea: 'bytes',
};

/** Normalizes `_int4` / `int4[]` / `INT4` to the element type name. */
function elementTypeName(typeName: string | undefined): string {
  const t = (typeName ?? '').toLowerCase().trim();
  if (t.startsWith('_')) return t.slice(1);
  if (t.endsWith('[]')) return t.slice(0, -2);
  return t;
}

function kindOf(typeName: string | undefined): Kind {
  return kinds[elementTypeName(typeName)] ?? 'text';
}

function fromString(text: string, kind: Kind): unknown {
  switch (kind) {
    case 'number':
      return Number(text); // LongReturnType STRING, or 'NaN'/'Infinity' for floats
    case 'timestamp':
      return parseDataApiTimestamp(text);
    case 'json':
      return JSON.parse(text) as unknown;
    case 'bool':
      return text === 't' || text === 'true';
    case 'bytes':
      return Buffer.from(text, 'base64');
    default:
      return text;
  }
}

function fromNumber(value: number, kind: Kind): unknown {
  return kind === 'decimal' ? String(value) : value;
}

function fromArray(array: ArrayValue, kind: Kind): unknown[] {
  if (array.arrayValues) return array.arrayValues.map((inner) => (inner === null ? null : fromArray(inner, kind)));
  if (array.stringValues) return array.stringValues.map((s) => (s === null ? null : fromString(s, kind)));
  if (array.longValues) return array.longValues.map((n) => (n === null ? null : fromNumber(n, kind)));
  if (array.doubleValues) return array.doubleValues.map((n) => (n === null ? null : fromNumber(n, kind)));
  if (array.booleanValues) return [...array.booleanValues];
  return [];
}

/** One `Field` → the canonical JS value for the column's type (client.ts). */
export function fromDataApiField(field: Field, column: ColumnMetadata | undefined): unknown {
  const kind = kindOf(column?.typeName);
  if (field.isNull) return null;
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.longValue !== undefined) return fromNumber(field.longValue, kind);
  if (field.doubleValue !== undefined) return fromNumber(field.doubleValue, kind);
  if (field.stringValue !== undefined) return fromString(field.stringValue, kind);
  if (field.blobValue !== undefined) return new Uint8Array(field.blobValue);
  if (field.arrayValue !== undefined) return fromArray(field.arrayValue, kind);
  // An empty union member is how the service sends some NULLs; unknown members fail loudly.
  if (field.$unknown) throw new TypeError(`the Data API returned an unknown Field member '${field.$unknown[0]}'`);
  return null;
}

/** `records` + `columnMetadata` → rows keyed by column label (last duplicate wins, as with node-postgres). */
export function fromDataApiRecords(records: readonly Field[][], columns: readonly ColumnMetadata[]): Row[] {
  const names = columns.map((c, i) => c.label ?? c.name ?? `?column?${i}`);
  return records.map((record) => {
    const row: Row = {};
    record.forEach((field, i) => {
      row[names[i] ?? `?column?${i}`] = fromDataApiField(field, columns[i]);
    });
    return row;
  });
}

/**
 * `formattedRecords` (formatRecordsAs: 'JSON') → rows. The service sends no column
 * metadata with it, so values stay as JSON gives them (timestamps and numerics as text).
 */
export function fromFormattedRecords(json: string): Row[] {
  const parsed = JSON.parse(json) as unknown;
  if (!Array.isArray(parsed)) throw new TypeError('formattedRecords is not a JSON array');
  return parsed as Row[];
}

import type { RawField } from './backend.ts';
import { parseArrayText } from './pg-array.ts';
import { unsupportedResult } from './service-error.ts';
import { caseSensitiveTypes, precisionAndScale, signedTypes, type TypeInfo } from './types.ts';

/**
 * An int8 beyond 2^53, which a JavaScript number would round: kept as its digits and
 * written into the JSON reply as a bare number (see `exactJson`), as the service's
 * Java serializer writes a long. JavaScript clients still round it when they parse;
 * others (Java, Python, Go) get every digit.
 */
const exactMark = `\uE000${Math.random().toString(36).slice(2, 10)}\uE000`;
const exactPattern = new RegExp(`"${exactMark}(-?\\d+)${exactMark}"`, 'g');

export class ExactLong {
  constructor(readonly digits: string) {}
  toJSON() {
    return `${exactMark}${this.digits}${exactMark}`;
  }
}

/** JSON.stringify, with every ExactLong written as its digits. */
export function exactJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text.includes(exactMark) ? text.replace(exactPattern, '$1') : text;
}

function long(text: string): number | ExactLong {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : new ExactLong(text);
}

/** A timetz's local time, its offset dropped as the service drops it (`12:34:56.5+02:30` → `12:34:56.5`). */
const dropOffset = (text: string) => text.replace(/[+-]\d\d(:\d\d){0,2}$/, '');

/** The service's Field union, exactly one member set. */
export type Field =
  | { isNull: true }
  | { booleanValue: boolean }
  | { longValue: number | ExactLong }
  | { doubleValue: number }
  | { stringValue: string }
  | { blobValue: string }
  | { arrayValue: ArrayValue };

export type ArrayValue =
  | { booleanValues: Array<boolean | null> }
  | { longValues: Array<number | ExactLong | null> }
  | { doubleValues: Array<number | null> }
  | { stringValues: Array<string | null> };

export interface ResultOptions {
  decimalReturnType?: 'STRING' | 'DOUBLE_OR_LONG';
  longReturnType?: 'LONG' | 'STRING';
}

/** timestamptz text in any session time zone → the service's UTC `YYYY-MM-DD HH:MM:SS[.ffffff]`. */
export function timestamptzToUtc(text: string): string {
  const m = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?( BC)?$/.exec(text);
  if (!m) return text; // infinity, -infinity
  const [, y, mo, d, h, mi, s, fraction = '', sign, oh, om = '0', os = '0', bc = ''] = m;
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const offsetSeconds = (Number(oh) * 3600 + Number(om) * 60 + Number(os)) * (sign === '-' ? -1 : 1);
  const utc = new Date(date.getTime() - offsetSeconds * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${pad(utc.getUTCFullYear(), 4)}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())} ` +
    `${pad(utc.getUTCHours())}:${pad(utc.getUTCMinutes())}:${pad(utc.getUTCSeconds())}${fraction}${bc}`
  );
}

function hexToBase64(text: string): string {
  return Buffer.from(text.startsWith('\\x') ? text.slice(2) : text, 'hex').toString('base64');
}

export class Converter {
  constructor(
    private readonly types: (oid: number) => TypeInfo,
    private readonly options: ResultOptions = {},
  ) {}

  field(text: string | null, oid: number): Field {
    if (text === null) return { isNull: true };
    const type = this.types(oid);
    if (type.element !== undefined) return { arrayValue: this.array(text, type) };
    switch (type.kind) {
      case 'bool':
        return { booleanValue: text === 't' };
      case 'long':
        return this.options.longReturnType === 'STRING' ? { stringValue: text } : { longValue: long(text) };
      case 'double': {
        const n = Number(text);
        return Number.isFinite(n) ? { doubleValue: n } : { stringValue: text };
      }
      case 'decimal':
        if (this.options.decimalReturnType === 'DOUBLE_OR_LONG' && /^-?\d+(\.\d+)?$/.test(text)) {
          return /^-?\d+$/.test(text) ? { longValue: long(text) } : { doubleValue: Number(text) };
        }
        return { stringValue: text };
      case 'blob':
        return { blobValue: hexToBase64(text) };
      case 'timestamptz':
        return { stringValue: timestamptzToUtc(text) };
      case 'timetz':
        return { stringValue: dropOffset(text) };
      case 'unsupported':
        throw unsupportedResult(`The result contains the unsupported data type ${type.name}.`);
      default:
        return { stringValue: text };
    }
  }

  private array(text: string, type: TypeInfo): ArrayValue {
    const element = this.types(type.element!);
    if (element.kind === 'unsupported' || element.kind === 'blob' || element.element !== undefined) {
      throw unsupportedResult(`The result contains the unsupported data type ${type.name}.`);
    }
    const items = parseArrayText(text, element.name === 'box' ? ';' : ',');
    if (items.some((i) => Array.isArray(i))) {
      throw unsupportedResult('The result contains a multidimensional array, which is not supported.');
    }
    const flat = items as Array<string | null>;
    const each = <T>(f: (s: string) => T) => flat.map((s) => (s === null ? null : f(s)));
    switch (element.kind) {
      case 'bool':
        return { booleanValues: each((s) => s === 't') };
      case 'long':
        return { longValues: each(long) };
      case 'double':
        return { doubleValues: each(Number) };
      case 'timestamptz':
        return { stringValues: each(timestamptzToUtc) };
      case 'timetz':
        return { stringValues: each(dropOffset) };
      default:
        return { stringValues: flat };
    }
  }

  /** The plain JSON value used in formattedRecords. */
  json(text: string | null, oid: number): unknown {
    const f = this.field(text, oid);
    if ('isNull' in f) return null;
    if ('arrayValue' in f) return Object.values(f.arrayValue)[0];
    return Object.values(f)[0];
  }
}


export interface ColumnInfo {
  tableName: string;
  schemaName: string;
  notNull: boolean;
  serial: boolean;
}

/** ColumnMetadata as the service returns it (pgJDBC's ResultSetMetaData). */
export function columnMetadata(field: RawField, type: TypeInfo, elementType: TypeInfo | undefined, column: ColumnInfo | undefined) {
  const { precision, scale } = precisionAndScale(field.dataTypeID, field.dataTypeModifier);
  let typeName = type.name;
  if (column?.serial) typeName = field.dataTypeID === 20 ? 'bigserial' : field.dataTypeID === 21 ? 'smallserial' : 'serial';
  return {
    name: field.name,
    label: field.name,
    type: type.jdbc,
    typeName,
    schemaName: column?.schemaName ?? '',
    tableName: column?.tableName ?? '',
    isAutoIncrement: column?.serial ?? false,
    isSigned: signedTypes.has(field.dataTypeID),
    isCurrency: field.dataTypeID === 790,
    isCaseSensitive: caseSensitiveTypes.has(field.dataTypeID) || type.jdbc === 1111,
    // 0 columnNoNulls, 1 columnNullable, 2 columnNullableUnknown (pgJDBC reports 1 for computed columns).
    nullable: column ? (column.notNull ? 0 : 1) : 1,
    precision,
    scale,
    arrayBaseColumnType: elementType ? elementType.jdbc : 0,
  };
}

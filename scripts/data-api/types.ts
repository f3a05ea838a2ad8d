/**
 * How each PostgreSQL type travels through the Data API: which Field member
 * carries it, and the JDBC metadata the service reports (it sits on pgJDBC).
 */
export type ValueKind = 'bool' | 'long' | 'double' | 'decimal' | 'string' | 'blob' | 'timestamptz' | 'timetz' | 'unsupported';

export interface TypeInfo {
  name: string;
  kind: ValueKind;
  /** java.sql.Types code. */
  jdbc: number;
  /** For arrays: the element type's OID. */
  element?: number;
}

const Jdbc = {
  bit: -7,
  smallint: 5,
  integer: 4,
  bigint: -5,
  real: 7,
  double: 8,
  numeric: 2,
  char: 1,
  varchar: 12,
  date: 91,
  time: 92,
  timestamp: 93,
  binary: -2,
  other: 1111,
  array: 2003,
} as const;

const scalar = (name: string, kind: ValueKind, jdbc: number): TypeInfo => ({ name, kind, jdbc });

export const builtinTypes = new Map<number, TypeInfo>([
  [16, scalar('bool', 'bool', Jdbc.bit)],
  [17, scalar('bytea', 'blob', Jdbc.binary)],
  [18, scalar('char', 'string', Jdbc.char)],
  [19, scalar('name', 'string', Jdbc.varchar)],
  [20, scalar('int8', 'long', Jdbc.bigint)],
  [21, scalar('int2', 'long', Jdbc.smallint)],
  [23, scalar('int4', 'long', Jdbc.integer)],
  [25, scalar('text', 'string', Jdbc.varchar)],
  [26, scalar('oid', 'long', Jdbc.bigint)],
  [114, scalar('json', 'string', Jdbc.other)],
  [142, scalar('xml', 'string', Jdbc.other)],
  [600, scalar('point', 'unsupported', Jdbc.other)],
  [601, scalar('lseg', 'unsupported', Jdbc.other)],
  [602, scalar('path', 'unsupported', Jdbc.other)],
  [603, scalar('box', 'unsupported', Jdbc.other)],
  [604, scalar('polygon', 'unsupported', Jdbc.other)],
  [628, scalar('line', 'unsupported', Jdbc.other)],
  [650, scalar('cidr', 'string', Jdbc.other)],
  [700, scalar('float4', 'double', Jdbc.real)],
  [701, scalar('float8', 'double', Jdbc.double)],
  [718, scalar('circle', 'unsupported', Jdbc.other)],
  [790, scalar('money', 'unsupported', Jdbc.double)],
  // Unsupported on AWS though pgJDBC reads them (issue 13: macaddr and the range types come back as errors there).
  [829, scalar('macaddr', 'unsupported', Jdbc.other)],
  [869, scalar('inet', 'string', Jdbc.other)],
  [1042, scalar('bpchar', 'string', Jdbc.char)],
  [1043, scalar('varchar', 'string', Jdbc.varchar)],
  [1082, scalar('date', 'string', Jdbc.date)],
  [1083, scalar('time', 'string', Jdbc.time)],
  [1114, scalar('timestamp', 'string', Jdbc.timestamp)],
  [1184, scalar('timestamptz', 'timestamptz', Jdbc.timestamp)],
  [1186, scalar('interval', 'string', Jdbc.other)],
  // The Data API returns a timetz as its local time: the offset is dropped.
  [1266, scalar('timetz', 'timetz', Jdbc.time)],
  [1700, scalar('numeric', 'decimal', Jdbc.numeric)],
  [2205, scalar('regclass', 'string', Jdbc.other)],
  [2278, scalar('void', 'string', Jdbc.other)],
  [2950, scalar('uuid', 'string', Jdbc.other)],
  [3802, scalar('jsonb', 'string', Jdbc.other)],
  [3908, scalar('tsrange', 'unsupported', Jdbc.other)],
  [3912, scalar('daterange', 'unsupported', Jdbc.other)],
  [3926, scalar('int8range', 'unsupported', Jdbc.other)],
]);

const arrays: Array<[number, number]> = [
  [1000, 16], [1001, 17], [1002, 18], [1003, 19], [1005, 21], [1007, 23], [1009, 25], [1014, 1042], [1015, 1043],
  [1016, 20], [1021, 700], [1022, 701], [1028, 26], [1182, 1082], [1183, 1083], [1115, 1114], [1185, 1184],
  [1187, 1186], [1231, 1700], [2951, 2950], [199, 114], [3807, 3802], [1041, 869], [651, 650], [1270, 1266],
  [791, 790], [1017, 600],
];
for (const [oid, element] of arrays) {
  builtinTypes.set(oid, { name: `_${builtinTypes.get(element)!.name}`, kind: 'string', jdbc: Jdbc.array, element });
}

/** A type the built-in table does not know (enum, domain, vector, user arrays), from pg_type. */
export function catalogType(row: { typname: string; typcategory: string; typelem: number }): TypeInfo {
  if (row.typcategory === 'A' && row.typelem) return { name: row.typname, kind: 'string', jdbc: Jdbc.array, element: row.typelem };
  return { name: row.typname, kind: 'string', jdbc: row.typcategory === 'E' ? Jdbc.varchar : Jdbc.other };
}

/** Precision and scale as pgJDBC reports them. */
export function precisionAndScale(oid: number, typmod: number | undefined): { precision: number; scale: number } {
  const mod = typmod ?? -1;
  switch (oid) {
    case 16: return { precision: 1, scale: 0 };
    case 21: return { precision: 5, scale: 0 };
    case 23: case 26: return { precision: 10, scale: 0 };
    case 20: return { precision: 19, scale: 0 };
    case 700: return { precision: 8, scale: 8 };
    case 701: return { precision: 17, scale: 17 };
    case 1700: return mod === -1 ? { precision: 0, scale: 0 } : { precision: ((mod - 4) >> 16) & 0xffff, scale: (mod - 4) & 0xffff };
    case 1042: case 1043: return { precision: mod === -1 ? 2147483647 : mod - 4, scale: 0 };
    case 1082: return { precision: 13, scale: 0 };
    case 1083: return { precision: 15, scale: 6 };
    case 1114: return { precision: 29, scale: 6 };
    case 1184: return { precision: 35, scale: 6 };
    case 2950: return { precision: 2147483647, scale: 0 };
    default: return { precision: 2147483647, scale: 0 };
  }
}

export const signedTypes = new Set([20, 21, 23, 700, 701, 1700, 790]);
export const caseSensitiveTypes = new Set([18, 19, 25, 114, 142, 1042, 1043, 3802]);

import type { RawValue } from './backend.ts';
import { rewritePlaceholders } from './placeholders.ts';
import { constraintViolation, serializationError, validationError } from './service-error.ts';

/**
 * The Data API's SqlParameter list bound to PostgreSQL `$n` parameters. Each
 * value kind is typed the way the service's JDBC layer types it (a stringValue
 * is a varchar, so inserting one into a uuid or jsonb column fails as it does on
 * AWS unless a typeHint or an explicit cast says otherwise).
 */
const hintCasts: Record<string, string> = {
  DATE: '::date',
  TIME: '::time',
  TIMESTAMP: '::timestamp',
  DECIMAL: '::numeric',
  JSON: '::json',
  UUID: '::uuid',
};

/**
 * The formats the documentation gives for a stringValue with a date/time typeHint
 * (data-api.html, "Using type hints"): TIMESTAMP `YYYY-MM-DD HH:MM:SS[.FFF]`, DATE
 * `YYYY-MM-DD`, TIME `HH:MM:SS[.FFF]`. Anything else (ISO `T…Z`, offsets, `March 3, 2024`)
 * is refused before it reaches PostgreSQL, whose own parser would accept it and drop the zone.
 */
const hintFormats: Record<string, { pattern: RegExp; format: string }> = {
  DATE: { pattern: /^\d{4}-\d{2}-\d{2}$/, format: 'YYYY-MM-DD' },
  TIME: { pattern: /^\d{2}:\d{2}:\d{2}(\.\d{1,3})?$/, format: 'HH:MM:SS[.FFF]' },
  TIMESTAMP: { pattern: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?$/, format: 'YYYY-MM-DD HH:MM:SS[.FFF]' },
};

interface Bound {
  value: RawValue;
  cast: string;
}

function field(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw serializationError(`Parameter ${name}: value must be an object with exactly one of isNull, booleanValue, longValue, doubleValue, stringValue, blobValue, arrayValue`);
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length !== 1) {
    // Field is a union: the protocol refuses a union value with no member or more than one set.
    throw serializationError(`Parameter ${name}: value must set exactly one of isNull, booleanValue, longValue, doubleValue, stringValue, blobValue, arrayValue`);
  }
  return Object.fromEntries(entries);
}

function bind(raw: unknown): { name: string; bound: Bound } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw serializationError('Each parameter must be an object {name, value, typeHint}');
  const p = raw as { name?: unknown; value?: unknown; typeHint?: unknown };
  if (p.name !== undefined && typeof p.name !== 'string') throw serializationError('A parameter name must be a string');
  if (typeof p.name !== 'string' || p.name === '') throw validationError('Each parameter needs a name (referenced as :name in the SQL)');
  const name = p.name;
  const v = field(p.value, name);
  let hint = '';
  if (p.typeHint !== undefined) {
    if (typeof p.typeHint !== 'string') throw serializationError(`Parameter ${name}: typeHint must be a string`);
    if (!(p.typeHint in hintCasts)) {
      throw constraintViolation('parameters.member.typeHint', p.typeHint, `Member must satisfy enum value set: [${Object.keys(hintCasts).join(', ')}]`);
    }
    hint = hintCasts[p.typeHint]!;
  }
  const [kind, content] = Object.entries(v)[0]!;
  const typed = (ok: boolean, value: RawValue, cast: string): { name: string; bound: Bound } => {
    if (!ok) throw serializationError(`Parameter ${name}: ${kind} has the wrong JSON type`);
    return { name, bound: { value, cast } };
  };
  switch (kind) {
    case 'isNull':
      return typed(content === true, null, hint);
    case 'booleanValue':
      return typed(typeof content === 'boolean', content as boolean, '::boolean');
    case 'longValue':
      return typed(typeof content === 'number' && Number.isInteger(content), String(content), '::int8');
    case 'doubleValue':
      return typed(typeof content === 'number', String(content), '::float8');
    case 'stringValue': {
      const format = hintFormats[p.typeHint as string];
      if (format && typeof content === 'string' && !format.pattern.test(content)) {
        throw validationError(
          `Parameter ${name}: a ${p.typeHint as string} typeHint takes a stringValue in the format ${format.format}, got ${JSON.stringify(content)}. ` +
            'Send UTC without a zone or a T separator (e.g. 2024-03-03 12:34:56.789).',
        );
      }
      return typed(typeof content === 'string', content as string, hint || '::varchar');
    }
    case 'blobValue': {
      const ok = typeof content === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(content);
      return typed(ok, ok ? Buffer.from(content as string, 'base64') : null, '::bytea');
    }
    case 'arrayValue':
      // The model's own doc for SqlParameter lists: "Array parameters are not supported."
      throw validationError('Array parameters are not supported.');
    default:
      throw serializationError(`Parameter ${name}: unknown value kind ${kind}`);
  }
}

export interface BoundStatement {
  text: string;
  values: RawValue[];
  originalPosition(position: number): number;
}

/** Rewrites `:name` placeholders and binds the parameters, rejecting a placeholder with no parameter. */
export function bindParameters(sqlText: string, parameters: unknown): BoundStatement {
  if (parameters !== undefined && parameters !== null && !Array.isArray(parameters)) throw serializationError('parameters must be a list');
  const byName = new Map<string, Bound>();
  for (const raw of (parameters as unknown[] | undefined) ?? []) {
    const { name, bound } = bind(raw);
    byName.set(name, bound);
  }
  const rewritten = rewritePlaceholders(
    sqlText,
    (name) => byName.get(name)?.cast ?? '',
    (name) => byName.has(name),
  );
  const missing = rewritten.names.filter((n) => !byName.has(n));
  if (missing.length > 0) {
    throw validationError(`No value was given for the SQL parameter(s) ${missing.map((m) => `:${m}`).join(', ')}`);
  }
  return {
    text: rewritten.text,
    values: rewritten.names.map((n) => byName.get(n)!.value),
    originalPosition: rewritten.originalPosition,
  };
}

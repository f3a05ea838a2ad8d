import type { ResultOptions } from './results.ts';
import { constraintViolation, serializationError, validationError } from './service-error.ts';

/**
 * The request members of the five operations, checked as the service checks them
 * before running anything: the JSON type of each member (SerializationException),
 * then the API model's constraints (ValidationException): required members, lengths
 * and enums. Lengths are the model's (rds-data 2018-08-01): Arn 11–100, SqlStatement
 * 0–65536, DbName 0–64, Id (transactionId) 0–192.
 */
type Body = Record<string, unknown>;

export const limits = { arnMin: 11, arnMax: 100, sqlMax: 65_536, dbNameMax: 64, idMax: 192 } as const;

function typed<T>(body: Body, member: string, type: 'string' | 'boolean' | 'object' | 'array'): T | undefined {
  const v = body[member];
  if (v === undefined || v === null) return undefined;
  const ok = type === 'array' ? Array.isArray(v) : type === 'object' ? typeof v === 'object' && !Array.isArray(v) : typeof v === type;
  if (!ok) throw serializationError(`${member} must be ${type === 'array' ? 'a list' : type === 'object' ? 'an object' : `a ${type}`}, got ${Array.isArray(v) ? 'a list' : typeof v}`);
  return v as T;
}

function string(body: Body, member: string, options: { required?: boolean; min?: number; max: number }): string | undefined {
  const v = typed<string>(body, member, 'string');
  if (v === undefined) {
    if (options.required) throw constraintViolation(member, null, 'Member must not be null');
    return undefined;
  }
  // The model counts characters (UTF-16 code units in the service's Java).
  if (options.min !== undefined && v.length < options.min) {
    throw constraintViolation(member, v, `Member must have length greater than or equal to ${options.min}`);
  }
  if (v.length > options.max) throw constraintViolation(member, v, `Member must have length less than or equal to ${options.max}`);
  return v;
}

function enumeration<T extends string>(body: Body, member: string, path: string, allowed: readonly T[]): T | undefined {
  const v = typed<string>(body, member, 'string');
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw constraintViolation(path, v, `Member must satisfy enum value set: [${allowed.join(', ')}]`);
  return v as T;
}

const arn = (body: Body, member: string) => string(body, member, { required: true, min: limits.arnMin, max: limits.arnMax })!;

export interface Common {
  resourceArn: string;
  secretArn: string;
  database: string | undefined;
}

function common(body: Body): Common {
  const resourceArn = arn(body, 'resourceArn');
  const secretArn = arn(body, 'secretArn');
  const database = string(body, 'database', { max: limits.dbNameMax }) || undefined;
  if (string(body, 'schema', { max: limits.dbNameMax }) !== undefined) {
    // Troubleshooting guide, "Schema parameter isn't supported": Serverless v1 ignores it, v2 and provisioned clusters reject the call.
    throw validationError("The schema parameter isn't supported. Set the search_path in the SQL, or qualify names with the schema.");
  }
  return { resourceArn, secretArn, database };
}

const transactionId = (body: Body, required: boolean) => string(body, 'transactionId', { required, max: limits.idMax });
const sql = (body: Body) => string(body, 'sql', { required: true, max: limits.sqlMax })!;

export function executeRequest(body: Body) {
  const options = typed<Body>(body, 'resultSetOptions', 'object') ?? {};
  const resultOptions: ResultOptions = {
    decimalReturnType: enumeration(options, 'decimalReturnType', 'resultSetOptions.decimalReturnType', ['STRING', 'DOUBLE_OR_LONG']),
    longReturnType: enumeration(options, 'longReturnType', 'resultSetOptions.longReturnType', ['STRING', 'LONG']),
  };
  return {
    ...common(body),
    sql: sql(body),
    transactionId: transactionId(body, false),
    parameters: typed<unknown[]>(body, 'parameters', 'array'),
    includeResultMetadata: typed<boolean>(body, 'includeResultMetadata', 'boolean') ?? false,
    continueAfterTimeout: typed<boolean>(body, 'continueAfterTimeout', 'boolean') ?? false,
    formatRecordsAs: enumeration(body, 'formatRecordsAs', 'formatRecordsAs', ['NONE', 'JSON']) ?? 'NONE',
    resultOptions,
  };
}

export function batchRequest(body: Body) {
  const sets = typed<unknown[]>(body, 'parameterSets', 'array') ?? [];
  sets.forEach((set, i) => {
    if (!Array.isArray(set)) throw serializationError(`parameterSets[${i}] must be a list of parameters`);
  });
  return { ...common(body), sql: sql(body), transactionId: transactionId(body, false), parameterSets: sets as unknown[][] };
}

export const beginRequest = (body: Body) => common(body);

export function endRequest(body: Body) {
  const resourceArn = arn(body, 'resourceArn');
  const secretArn = arn(body, 'secretArn');
  return { resourceArn, secretArn, transactionId: transactionId(body, true)! };
}

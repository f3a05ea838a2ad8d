import type { FaultKind } from './data-api-retry.ts';
import {
  DataApiError,
  DatabaseError,
  DatabaseUnavailableError,
  OffpeakError,
  StatementTimeoutError,
  TransactionNotFoundError,
  UnsupportedResultError,
} from '../errors.ts';

/**
 * Maps what the Data API SDK throws to offpeak's errors. Service exceptions are
 * recognised by `name` (what the SDK reads from x-amzn-errortype), so this module
 * needs no SDK import and also works on errors deserialised elsewhere.
 */

/** Errors the service raises before it runs the statement: retrying them cannot run it twice. */
export const RETRYABLE_BEFORE_EXECUTION: ReadonlySet<string> = new Set(['DatabaseResumingException', 'DatabaseUnavailableException']);

interface ServiceErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: unknown;
}

/** True for an exception the service itself returned (as opposed to a network or client failure). */
export function isServiceError(error: unknown): boolean {
  const e = error as ServiceErrorShape | null;
  return typeof e === 'object' && e !== null && typeof e.$fault === 'string' && typeof e.$metadata === 'object';
}

export function isRetryableBeforeExecution(error: unknown): boolean {
  return isServiceError(error) && RETRYABLE_BEFORE_EXECUTION.has(String((error as ServiceErrorShape).name));
}

/** 5xx answers: the service failed somewhere between taking the request and answering; the statement may have run. */
const OUTCOME_UNKNOWN_SERVICE_ERRORS: ReadonlySet<string> = new Set(['InternalServerErrorException', 'ServiceUnavailableError']);

/**
 * What a raw Data API failure means for a retry (see `FaultKind`), or undefined when retrying cannot help
 * (an SQL error, a statement timeout, a bad request, a missing transaction).
 */
export function classifyDataApiFault(error: unknown): FaultKind | undefined {
  if (isServiceError(error)) {
    const name = String((error as ServiceErrorShape).name);
    if (RETRYABLE_BEFORE_EXECUTION.has(name)) return 'before_execution';
    return OUTCOME_UNKNOWN_SERVICE_ERRORS.has(name) ? 'outcome_unknown' : undefined;
  }
  if (error instanceof OffpeakError) return undefined;
  const e = (error ?? {}) as ServiceErrorShape;
  // Aborted on purpose (an interrupt, an early timeout): never resent.
  if (e.name === 'AbortError') return undefined;
  const code = typeof e.code === 'string' ? e.code : '';
  return NOT_SENT_CODES.has(code) ? 'unreachable' : 'outcome_unknown';
}

/**
 * True for an offpeak error that says the database could not be reached or did not answer (resuming past the
 * retry budget, a lost response, a 5xx): not an SQL error. The runner reconciles such a failure from the ledger
 * and the catalog instead of failing the run.
 */
export function isTransportFault(error: unknown): boolean {
  return error instanceof DatabaseUnavailableError && error.context['aborted'] !== true;
}

/** True when the failed call may have run (its response was lost): see `isTransportFault`. */
export function isOutcomeUnknown(error: unknown): boolean {
  return error instanceof DatabaseUnavailableError && error.context['outcome'] === 'unknown';
}

/** Aurora appends `SQLState: 42P01` to PostgreSQL's message. */
export function parseSqlState(message: string): string | undefined {
  return /SQLState:\s*([0-9A-Z]{5})/i.exec(message)?.[1]?.toUpperCase();
}

/** Codes of socket failures where the request provably never reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

/** Maps a Data API failure to offpeak's error hierarchy, always keeping the original as `cause`. */
export function mapDataApiError(error: unknown, operation: string): Error {
  if (error instanceof OffpeakError) return error;
  const e = (error ?? {}) as ServiceErrorShape;
  const message = typeof e.message === 'string' ? e.message : String(error);

  if (!isServiceError(error)) {
    // Timeouts, resets and aborts: the request may have reached the database and committed.
    const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'unknown';
    const outcome = NOT_SENT_CODES.has(code) ? 'not_sent' : 'unknown';
    const hint = outcome === 'unknown' ? ' (the statement may or may not have run: check before retrying a write)' : '';
    // An aborted call (interrupt, early timeout) is no transport fault: the runner must not run the unit again.
    const aborted = e.name === 'AbortError';
    return new DatabaseUnavailableError(`Data API ${operation} failed: ${message}${hint}`, {
      cause: error,
      context: { operation, code, outcome, ...(aborted ? { aborted } : {}) },
    });
  }

  const name = String(e.name);
  const context = { operation, serviceCode: name };
  switch (name) {
    case 'DatabaseErrorException':
    case 'BadRequestException': {
      const sqlState = parseSqlState(message);
      return new DatabaseError(message, { sqlState, cause: error, context: { ...context, sqlState } });
    }
    case 'StatementTimeoutException':
      return new StatementTimeoutError(`Data API ${operation}: ${message}`, { cause: error, context });
    case 'DatabaseResumingException':
    case 'DatabaseUnavailableException':
      return new DatabaseUnavailableError(`Data API ${operation}: ${name}: ${message}`, { cause: error, context: { ...context, outcome: 'not_run' } });
    case 'ServiceUnavailableError':
    case 'InternalServerErrorException':
      return new DatabaseUnavailableError(`Data API ${operation}: ${name}: ${message} (the statement may or may not have run)`, {
        cause: error,
        context: { ...context, outcome: 'unknown' },
      });
    case 'TransactionNotFoundException':
      return new TransactionNotFoundError(`Data API ${operation}: ${message}`, { cause: error, context });
    case 'UnsupportedResultException':
      return new UnsupportedResultError(`Data API ${operation}: ${message} (cast the column to text)`, { cause: error, context });
    default:
      return new DataApiError(`Data API ${operation}: ${name}: ${message}`, { serviceCode: name, cause: error, context });
  }
}

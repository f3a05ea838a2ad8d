/**
 * One error hierarchy for offpeak. Every class sets `name`, carries structured
 * `context` for logs, and keeps the original failure as `cause`.
 */
export type ErrorContext = Record<string, unknown>;

export interface OffpeakErrorOptions extends ErrorOptions {
  context?: ErrorContext;
}

export class OffpeakError extends Error {
  readonly context: ErrorContext;

  constructor(message: string, options: OffpeakErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.context = options.context ?? {};
  }
}

/** Bad configuration or bad command-line usage: the operator must change something. */
export class ConfigError extends OffpeakError {}

/** An input (event, migration file, option) failed validation; nothing was changed. */
export class ValidationError extends OffpeakError {}

// ---------------------------------------------------------------- database

/**
 * PostgreSQL rejected a statement. `sqlState` is the five-character SQLSTATE
 * (e.g. 55P03 lock_not_available) when the driver or the Data API reported it.
 */
export class DatabaseError extends OffpeakError {
  readonly sqlState: string | undefined;

  constructor(message: string, options: OffpeakErrorOptions & { sqlState?: string | undefined } = {}) {
    super(message, options);
    this.sqlState = options.sqlState;
  }
}

/** The statement ran past the statement timeout and was cancelled (or, with continueAfterTimeout, left running). */
export class StatementTimeoutError extends OffpeakError {}

/** The database is resuming, unavailable or unreachable; safe to retry a read, never blindly a write. */
export class DatabaseUnavailableError extends OffpeakError {}

/**
 * A call's response was lost (or the database stayed unreachable) and neither a retry nor a look at the ledger
 * and the catalog could establish what happened. Nothing is assumed: the run stays resumable where it was, and
 * the next run reconciles it from the ledger. `context.operation` names the call.
 */
export class OutcomeUnknownError extends OffpeakError {}

/** A transaction id is unknown, expired or already finished. */
export class TransactionNotFoundError extends OffpeakError {}

/** A result could not be represented (too large, unsupported type). */
export class UnsupportedResultError extends OffpeakError {}

/** Any other Data API service failure (auth, secrets, endpoint disabled, throttling). */
export class DataApiError extends OffpeakError {
  readonly serviceCode: string;

  constructor(message: string, options: OffpeakErrorOptions & { serviceCode: string }) {
    super(message, options);
    this.serviceCode = options.serviceCode;
  }
}

/** The embedded database directory is held by another process. */
export class DatabaseLockedError extends OffpeakError {}

/** A database to be copied (CREATE DATABASE … TEMPLATE) has other sessions; context names how many and which applications. */
export class SourceBusyError extends OffpeakError {}

// ---------------------------------------------------------------- migrations

/** The migration files do not form a valid graph, or do not match the ledger. */
export class MigrationGraphError extends OffpeakError {}

/** An applied migration's file changed after it was applied. */
export class ChecksumMismatchError extends MigrationGraphError {}

export class MigrationFailedError extends OffpeakError {
  readonly revision: string;
  readonly step: number;
  readonly direction: 'up' | 'down';

  constructor(
    message: string,
    options: OffpeakErrorOptions & { revision: string; step: number; direction: 'up' | 'down' },
  ) {
    super(message, { ...options, context: { ...options.context, revision: options.revision, step: options.step, direction: options.direction } });
    this.revision = options.revision;
    this.step = options.step;
    this.direction = options.direction;
  }
}

/** Another run holds the migration lease. */
export class LeaseHeldError extends OffpeakError {
  readonly owner: string;
  readonly expiresAt: Date;

  constructor(owner: string, expiresAt: Date, options: OffpeakErrorOptions = {}) {
    super(`migration lease is held by ${owner} until ${expiresAt.toISOString()}`, {
      ...options,
      context: { ...options.context, owner, expiresAt: expiresAt.toISOString() },
    });
    this.owner = owner;
    this.expiresAt = expiresAt;
  }
}

/**
 * This run held the migration lease and lost it: its heartbeat found the lease expired or taken (`cause`
 * says by whom when known), or heartbeats failed for longer than the lease lasts. The run stops before
 * its next statement; the next run resumes it.
 */
export class LeaseLostError extends OffpeakError {
  readonly owner: string;

  constructor(owner: string, message: string, options: OffpeakErrorOptions = {}) {
    super(message, { ...options, context: { ...options.context, owner } });
    this.owner = owner;
  }
}

/**
 * A signal (SIGINT, SIGTERM, a Lambda's early timeout) stopped the run: the running statement was
 * cancelled, an open transaction rolled back, and the run left resumable. `what` says what was running.
 */
export class InterruptedError extends OffpeakError {
  readonly what: string;

  constructor(what: string, options: OffpeakErrorOptions = {}) {
    super(`interrupted: ${what}`, { ...options, context: { ...options.context, what } });
    this.what = what;
  }
}

/**
 * The database was over the run's critical-load (`reason`, e.g. `active=52 > 40`): the run stopped, resumable;
 * a strong-lock statement still waiting for its lock was cancelled (load-guard.ts).
 */
export class LoadCriticalError extends OffpeakError {
  readonly reason: string;

  constructor(reason: string, options: OffpeakErrorOptions = {}) {
    super(`critical load: ${reason}`, { ...options, context: { ...options.context, reason } });
    this.reason = reason;
  }
}

/** The off-peak window is closed. */
export class OutsideWindowError extends OffpeakError {}

/**
 * Pre-flight refused the plan before any change: a build is estimated to need more than a whole window, or the
 * builds more disk than is free. The message gives the numbers and the fix.
 */
export class PreflightRefusedError extends OffpeakError {}

// ---------------------------------------------------------------- reports

/** The report could not be published (the transport refused it or was unreachable). */
export class ReportPublishError extends OffpeakError {}

/**
 * An error the way the RDS Data API reports it: the shape name goes in the
 * `x-amzn-errortype` header (the SDK maps it to its exception class), the
 * message in the JSON body, with the service's HTTP status.
 *
 * Classes and statuses follow the API model shipped in @aws-sdk/client-rds-data
 * (dist-es/schemas/schemas_0.js: each error's httpError). Request-validation errors
 * (ValidationException, SerializationException) are not in the model: they are the
 * AWS JSON protocol's framework errors, which the SDK surfaces as a generic
 * RDSDataServiceException carrying that name. The model marks BadRequestException
 * "deprecated", so the server never sends it.
 */
export class ServiceError extends Error {
  readonly status: number;
  readonly extra: Record<string, unknown>;

  constructor(name: string, status: number, message: string, options: ErrorOptions & { extra?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
    this.status = status;
    this.extra = options.extra ?? {};
  }
}

/**
 * A request that breaks the API model's constraints (required member missing, length, enum) or
 * a rule the service checks before running anything (array parameters, multistatements).
 */
export const validationError = (message: string, cause?: unknown) => new ServiceError('ValidationException', 400, message, { cause });

/** The AWS JSON protocol's wording for one constraint violation. */
export const constraintViolation = (member: string, value: unknown, constraint: string) => {
  const shown = value === null ? 'Value null at' : typeof value === 'string' && value.length <= 256 ? `Value '${value}' at` : 'Value at';
  return validationError(`1 validation error detected: ${shown} '${member}' failed to satisfy constraint: ${constraint}`);
};

/** A body that is not JSON, or a member of the wrong JSON type: the protocol's deserialization error. */
export const serializationError = (message: string, cause?: unknown) => new ServiceError('SerializationException', 400, message, { cause });

/**
 * Why a transaction id is unknown, appended to the message as the troubleshooting guide
 * ("Transaction <transaction_ID> isn't found") describes.
 */
export type TransactionGoneReason = 'expired' | 'ended' | 'aborted';
const goneReasons: Record<TransactionGoneReason, string> = {
  expired: 'Transaction may be expired',
  ended: 'One previous call resulted in a termination of your transaction',
  aborted: 'Transaction has been aborted due to an error from a previous call',
};

export const transactionNotFound = (transactionId: string, reason: TransactionGoneReason = 'expired') =>
  new ServiceError('TransactionNotFoundException', 404, `Transaction ${transactionId} is not found: ${goneReasons[reason]}`);

/** A second call on a transaction while one runs (troubleshooting guide: "DatabaseErrorException: Transaction is still running a query"). */
export const transactionBusy = () => new ServiceError('DatabaseErrorException', 400, 'Transaction is still running a query');

export const unsupportedResult = (message: string) => new ServiceError('UnsupportedResultException', 400, message);

/** `cancelled` is internal (not sent): whether the statement was stopped, which aborts an enclosing transaction. */
export const statementTimeout = (message: string, dbConnectionId: number, cancelled: boolean) => {
  const error = new ServiceError('StatementTimeoutException', 400, message, { extra: { dbConnectionId } });
  Object.defineProperty(error.extra, 'cancelled', { value: cancelled, enumerable: false });
  return error;
};

/** The model's DatabaseUnavailableException (server fault, 504): "The writer instance in the DB cluster isn't available." */
export const databaseUnavailable = (message: string, cause?: unknown) => new ServiceError('DatabaseUnavailableException', 504, message, { cause });

export const internalError = (cause: unknown) =>
  new ServiceError('InternalServerErrorException', 500, 'Internal server error', { cause });

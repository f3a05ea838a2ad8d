/**
 * An error the way the RDS Data API reports it: the shape name goes in the
 * `x-amzn-errortype` header (the SDK maps it to its exception class), the
 * message in the JSON body, with the service's HTTP status.
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

/** A malformed request: missing or mistyped fields, bad JSON, unsupported parameter kinds. */
export const badRequest = (message: string, cause?: unknown) =>
  new ServiceError('BadRequestException', 400, message, { cause });

/** The service's own validation error (not in the SDK model, so the SDK surfaces a generic exception with this name). */
export const validationError = (message: string) => new ServiceError('ValidationException', 400, message);

export const transactionNotFound = (transactionId: string) =>
  new ServiceError('TransactionNotFoundException', 404, `Transaction ${transactionId} is not found`);

export const unsupportedResult = (message: string) => new ServiceError('UnsupportedResultException', 400, message);

/** `cancelled` is internal (not sent): whether the statement was stopped, which aborts an enclosing transaction. */
export const statementTimeout = (message: string, dbConnectionId: number, cancelled: boolean) => {
  const error = new ServiceError('StatementTimeoutException', 400, message, { extra: { dbConnectionId } });
  Object.defineProperty(error.extra, 'cancelled', { value: cancelled, enumerable: false });
  return error;
};

export const internalError = (cause: unknown) =>
  new ServiceError('InternalServerErrorException', 500, 'Internal server error', { cause });

/**
 * One error type for the whole backend. Services throw AppError with a kebab-case code; the HTTP
 * error middleware and the Socket.IO handlers turn it into the contract's error shape, so a code
 * means the same thing on every transport.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(err: AppError): ErrorBody {
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  if (err.details !== undefined) body.error.details = err.details;
  return body;
}

export const notFound = (what: string, id: string): AppError =>
  new AppError(404, 'not-found', `${what} ${id} does not exist`);

/**
 * The one error shape of the HTTP API and the Socket.IO acks: `{error: {code, message, details?}}`
 * with a kebab-case code. A code means the same thing on every transport; each transport picks its
 * own status for it.
 */
export const ERROR_CODES = [
  // Input
  'bad-request',
  'invalid-request',
  'invalid-json',
  'unsupported-media-type',
  'payload-too-large',
  'invalid-provider-url',
  // Access
  'unauthorized',
  'invalid-token',
  'host-not-allowed',
  'origin-not-allowed',
  'forbidden',
  'rate-limited',
  'too-many-chats',
  // Resources
  'not-found',
  'unknown-url',
  'model-not-found',
  'method-not-allowed',
  'not-streaming',
  'not-implemented',
  'setting-locked',
  // Server state
  'not-ready',
  'shutting-down',
  'internal-error',
  // Chat and providers
  'cancelled',
  'reply-cancelled',
  'code-validation-failed',
  'no-provider',
  'provider-unavailable',
  'provider-timeout',
  'provider-error',
  'provider-disconnected',
  'provider-circuit-open',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** The body for an error; `details` is left out when there are none. */
export function errorBody(err: { code: string; message: string; details?: unknown }): ErrorBody {
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  if (err.details !== undefined) body.error.details = err.details;
  return body;
}

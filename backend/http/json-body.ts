import type { IncomingMessage } from 'node:http';

/**
 * The common JSON request body (plain `application/json`, UTF-8, a Content-Length within the
 * limit, no Content-Encoding) read without express.json. That parser looks the content type up
 * twice, parses its parameters, picks a charset decoder and binds its callback to an async scope
 * on every request; for a chat turn this cost as much as the route's own work. Every other body
 * (compressed, chunked, another charset, empty, over the limit, a request already finished) still
 * goes through express.json, and what this reader does matches it: the same parsed value, and
 * errors of the same `type` and status, with the same message where the error handler shows one
 * (a JSON syntax error is reported as `invalid-json` whatever its message). Unlike raw-body it
 * does not bind `done` to the async scope of the middleware; nothing here uses AsyncLocalStorage.
 */

/** Content types (as clients send them) that name plain UTF-8 JSON. */
const PLAIN_JSON = new Set(['application/json', 'application/json; charset=utf-8']);
const DECIMAL = /^\d{1,15}$/;
/** JSON's whitespace, which may precede the first character (RFC 8259). */
const LEADING_WHITESPACE = /^[ \t\n\r]*/;

/** The body's byte length when this reader can take the request, or undefined for express.json. */
export function plainJsonLength(req: IncomingMessage, limit: number): number | undefined {
  const { headers } = req;
  const type = headers['content-type'];
  if (type === undefined || !(PLAIN_JSON.has(type) || PLAIN_JSON.has(type.toLowerCase()))) return undefined;
  if (headers['content-encoding'] !== undefined || headers['transfer-encoding'] !== undefined) return undefined;
  const declared = headers['content-length'];
  if (declared === undefined || !DECIMAL.test(declared)) return undefined;
  const length = Number(declared);
  if (length === 0 || length > limit) return undefined;
  // express.json leaves a request that has already been read (or lost its socket) alone.
  if ((req as { upgrade?: boolean }).upgrade === true || (req.complete && !req.readable) || req.socket === null || !req.socket.writable) return undefined;
  return length;
}

/** An error shaped like the ones express.json passes on: the error handler reads type and message. */
function bodyError(status: number, message: string, type: string): Error {
  return Object.assign(new Error(message), { status, statusCode: status, expose: true, type });
}

/**
 * Reads `length` bytes of UTF-8 JSON from `req` and calls `done` with the value, or with an error
 * as express.json (strict) would report it.
 */
export function readPlainJson(req: IncomingMessage, length: number, done: (err: unknown, body?: unknown) => void): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let finished = false;
  const finish = (err: unknown, body?: unknown): void => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('aborted', onAborted);
    req.off('error', onError);
    if (err !== undefined) req.pause();
    done(err, body);
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    chunks.push(chunk);
  };
  const onAborted = (): void => finish(bodyError(400, 'request aborted', 'request.aborted'));
  // express.json gives a stream error the status 400 it lacks, and passes it on otherwise as it is.
  const onError = (err: Error & { status?: unknown; statusCode?: unknown }): void => {
    if (typeof err.status !== 'number' && typeof err.statusCode !== 'number') Object.assign(err, { status: 400, statusCode: 400, expose: true });
    finish(err);
  };
  const onEnd = (): void => {
    if (received !== length) {
      finish(bodyError(400, 'request size did not match content length', 'request.size.invalid'));
      return;
    }
    const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
    let text = bytes.toString('utf8');
    // express.json's UTF-8 decoder drops a byte order mark.
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.length === 0) {
      finish(undefined, {});
      return;
    }
    // Strict, as express.json is configured: only an object or an array at the top.
    const first = text[0] === '{' || text[0] === '[' ? text[0] : text[(LEADING_WHITESPACE.exec(text)?.[0] ?? '').length];
    let body: unknown;
    try {
      if (first !== '{' && first !== '[') throw new SyntaxError('the body is not a JSON object or array');
      body = JSON.parse(text) as unknown;
    } catch (err) {
      finish(bodyError(400, (err as Error).message, 'entity.parse.failed'));
      return;
    }
    finish(undefined, body);
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('aborted', onAborted);
  req.on('error', onError);
}

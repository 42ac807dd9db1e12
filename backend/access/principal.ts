/**
 * Who a request or a socket speaks for. Every route and the Socket.IO handshake ask the access
 * concern one question and get this back; the rest of the server only reads it (metrics label
 * replies by `name`, limits count per `id`, admin routes check `scope`).
 */
export type Scope = 'user' | 'admin';

export interface Principal {
  /** How the credential was presented: the owner token, a named token or a paired browser session. */
  kind: 'owner' | 'token' | 'session';
  /** Stable id of the credential (`owner` for the owner token). */
  id: string;
  /** Human name: `owner`, the named token's name, or the session's label. */
  name: string;
  scope: Scope;
}

export const OWNER: Principal = Object.freeze({ kind: 'owner', id: 'owner', name: 'owner', scope: 'admin' });

// Kept on the request under a private symbol, like the request context: no WeakMap on the hot path.
const PRINCIPAL = Symbol('orchestra.principal');
// Typed as any object (a request is one) so the renderer, which reads Principal through the
// Socket.IO event types, needs no Node typings.
type WithPrincipal = object & { [PRINCIPAL]?: Principal };

export function setPrincipal(req: object, principal: Principal): void {
  (req as WithPrincipal)[PRINCIPAL] = principal;
}

/** The principal the access guard attached, or undefined before the guard ran (or on open routes). */
export function principalOf(req: object): Principal | undefined {
  return (req as WithPrincipal)[PRINCIPAL];
}

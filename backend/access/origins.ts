/**
 * Whether a browser Origin may open a Socket.IO connection. SameSite cookies ignore ports, so a
 * page on any other port of the same host would otherwise ride on a paired browser's cookie; and
 * Socket.IO's `cors` option only sets response headers, it refuses nothing. So the handshake
 * itself is refused unless the Origin is the server's own (same scheme, host name and one of the
 * server's ports) or listed in CORS_ORIGINS.
 */
export interface OriginPolicy {
  /** CORS_ORIGINS: the list, or a function read on every check when the list can change live. */
  listed: readonly string[] | (() => readonly string[]);
  /** The ports this server answers on (the API port and, when separate, the Socket.IO one). */
  ports: number[];
}

function normalized(origin: string): URL | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function originSet(list: readonly string[]): Set<string> {
  const set = new Set<string>();
  for (const o of list) {
    const url = normalized(o);
    if (url) set.add(url.origin);
  }
  return set;
}

const portOf = (url: URL): number => (url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);

export function originChecker(policy: OriginPolicy): (origin: string, hostHeader: string | undefined, encrypted: boolean) => boolean {
  const current = typeof policy.listed === 'function' ? policy.listed : ((l) => () => l)(policy.listed);
  let source = current();
  let listed = originSet(source);
  const ports = new Set(policy.ports);
  return (origin, hostHeader, encrypted) => {
    const from = normalized(origin);
    if (from === undefined) return false;
    if (current() !== source) {
      source = current();
      listed = originSet(source);
    }
    if (listed.has(from.origin)) return true;
    if (hostHeader === undefined) return false;
    const scheme = encrypted ? 'https:' : 'http:';
    const own = normalized(`${scheme}//${hostHeader}`);
    if (own === undefined || from.protocol !== scheme || from.hostname !== own.hostname) return false;
    const port = portOf(from);
    return port === portOf(own) || ports.has(port);
  };
}

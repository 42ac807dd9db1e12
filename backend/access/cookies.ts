/**
 * The one cookie reader of the server. A cookie header is attacker-controlled text that reaches
 * the Socket.IO middleware and every HTTP guard before any credential is known, so reading it
 * must never throw: a value with a bad percent-encoding (`orchestra_token=%`) is kept as it was
 * sent, which no credential ever matches.
 */
export function safeDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The value of cookie `name` in a Cookie header, or undefined; the first occurrence wins. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join('; ') : header;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(';', start);
    if (end < 0) end = text.length;
    const eq = text.indexOf('=', start);
    if (eq > start && eq < end && text.slice(start, eq).trim() === name) {
      let raw = text.slice(eq + 1, end).trim();
      if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) raw = raw.slice(1, -1);
      return safeDecode(raw);
    }
    start = end + 1;
  }
  return undefined;
}

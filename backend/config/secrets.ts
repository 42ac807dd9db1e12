/**
 * Masking for anything that may carry a secret on its way to a log line: URLs with passwords,
 * tokens, API keys. The logger also scrubs the literal values registered here from every line it
 * writes, so a secret that slips into a message string is still masked.
 */
const registered = new Set<string>();

export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= 6) registered.add(value);
}

export function scrubSecrets(line: string): string {
  let out = line;
  // Stryker disable next-line ConditionalExpression: includes() only skips work; splitting on an absent secret leaves the line as it was
  for (const s of registered) if (out.includes(s)) out = out.split(s).join('***');
  return out;
}

export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (/token|key|secret|password/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    return url;
  }
}

export function passwordOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const p = new URL(url).password;
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return undefined;
  }
}

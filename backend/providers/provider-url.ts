import { DomainError } from '../errors.js';

/** A provider base URL, normalised: http(s), no trailing slash, no query or fragment. */
export interface ProviderUrl {
  /** e.g. `http://127.0.0.1:11434/v1` */
  baseUrl: string;
  /** e.g. `http://127.0.0.1:11434` */
  origin: string;
  /** e.g. `/v1` (empty for a base URL without a path) */
  basePath: string;
  /** e.g. `127.0.0.1:11434`, with the scheme's default port spelled out */
  hostPort: string;
}

export function parseProviderUrl(raw: string): ProviderUrl {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new DomainError('invalid', 'invalid-provider-url', `"${raw}" is not a URL; expected e.g. http://127.0.0.1:11434/v1`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DomainError('invalid', 'invalid-provider-url', `"${raw}" must be an http:// or https:// URL`);
  }
  const basePath = url.pathname.replace(/\/+$/, '');
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return { baseUrl: url.origin + basePath, origin: url.origin, basePath, hostPort: `${url.hostname}:${port}` };
}

/** The breaker name the registry, status and metrics use for a provider. */
export function providerBreakerName(url: ProviderUrl): string {
  return `provider:${url.hostPort}`;
}

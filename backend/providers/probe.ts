import { createRequire } from 'node:module';
import { parseProviderUrl } from './provider-url.js';

/**
 * Asks `GET <baseUrl>/models` whether an OpenAI-compatible server is there. Never throws: any
 * failure, a slow answer or an answer that is not a model list means "nobody home". Each probe
 * uses its own short-lived connection so a probe of a dead port leaves nothing behind.
 */
const requireModule = createRequire(import.meta.url);

export async function probeOpenAICompatible(baseUrl: string, timeoutMs: number, signal?: AbortSignal): Promise<string[] | undefined> {
  const url = parseProviderUrl(baseUrl);
  // Loaded on first use: most starts never probe (a provider is configured).
  const { Client } = requireModule('undici') as typeof import('undici');
  const client = new Client(url.origin, {
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await client.request({
      method: 'GET',
      path: `${url.basePath}/models`,
      headers: { accept: 'application/json' },
      signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return undefined;
    }
    return modelIds(await res.body.json());
  } catch {
    return undefined;
  } finally {
    await client.destroy().catch(() => undefined);
  }
}

function modelIds(body: unknown): string[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const data = (body as { data?: unknown }).data;
  if (!Array.isArray(data)) return undefined;
  const ids: string[] = [];
  for (const entry of data as unknown[]) {
    if (typeof entry === 'object' && entry !== null) {
      const id = (entry as { id?: unknown }).id;
      if (typeof id === 'string') ids.push(id);
    }
  }
  return ids;
}

import type { Conversation, ConversationOptions, ConversationWithMessages, ModelList, Page, Problem, SearchHit, SettingEntry, StatusBody } from './contract.js';

/**
 * The REST side of the backend. The page is served by the backend itself, so requests are same
 * origin and carry the HttpOnly pairing cookie; no token ever lives in JavaScript.
 */
export class ApiError extends Error implements Problem {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get unauthorized(): boolean {
    return this.status === 401;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads the contract's error body; anything else becomes a generic error naming the status. */
export function problemFrom(status: number, body: unknown): ApiError {
  const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    return new ApiError(status, error.code, error.message, error.details);
  }
  return new ApiError(status, status === 0 ? 'network-error' : `http-${status}`, `the server answered ${status}`);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new ApiError(0, 'network-error', `cannot reach the Orchestra server (${(err as Error).message})`);
  }
  if (res.status === 204) return undefined as T;
  let parsed: unknown;
  try {
    parsed = await res.json();
  } catch {
    parsed = undefined;
  }
  if (!res.ok) throw problemFrom(res.status, parsed);
  return parsed as T;
}

const conversationPath = (id: string): string => `/api/conversations/${encodeURIComponent(id)}`;

export const api = {
  status: () => request<StatusBody>('GET', '/api/status'),
  conversations: (limit = 100) => request<Page<Conversation>>('GET', `/api/conversations?limit=${limit}`),
  conversation: (id: string) => request<ConversationWithMessages>('GET', conversationPath(id)),
  rename: (id: string, title: string) => request<Conversation>('PATCH', conversationPath(id), { title }),
  remove: (id: string) => request<void>('DELETE', conversationPath(id)),
  update: (id: string, patch: ConversationOptions & { title?: string }) => request<Conversation & ConversationOptions>('PATCH', conversationPath(id), patch),
  models: () => request<ModelList>('GET', '/api/models'),
  search: (q: string, limit = 20) => request<{ items: SearchHit[] }>('GET', `/api/search?q=${encodeURIComponent(q)}&limit=${limit}`),
  regenerate: (messageId: string) =>
    request<{ conversationId: string; message: unknown }>('POST', `/api/chat/${encodeURIComponent(messageId)}/regenerate`, { stream: false }),
  importConversations: (body: unknown) => request<{ imported: string[] }>('POST', '/api/conversations/import', body),
  exportUrl: (id: string, format: 'md' | 'json') => `${conversationPath(id)}/export?format=${format}`,
  settings: () => request<unknown>('GET', '/api/settings'),
  saveSettings: (patch: Record<string, unknown>) => request<unknown>('PATCH', '/api/settings', patch),
};

/** Reads GET /api/settings defensively: `{settings: {key: entry}}` or the map itself. */
export function readSettings(body: unknown): Record<string, SettingEntry> {
  const map = isRecord(body) && isRecord(body.settings) ? body.settings : isRecord(body) ? body : {};
  const out: Record<string, SettingEntry> = {};
  for (const [key, raw] of Object.entries(map)) {
    if (!isRecord(raw)) continue;
    // A secret may come as `{value: {set}}` or as `{set}` beside its source.
    const value = 'value' in raw ? raw.value : typeof raw.set === 'boolean' ? { set: raw.set } : undefined;
    if (value === undefined) continue;
    const source = typeof raw.source === 'string' ? (raw.source as SettingEntry['source']) : 'default';
    out[key] = { value, source, locked: raw.locked === true || source === 'env' || source === 'flag' };
  }
  return out;
}

/** The typed value for the text typed, in the shape the current value has (a list, a number, a flag). */
export function fromText(text: string, current: unknown): unknown {
  if (Array.isArray(current)) return text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (typeof current === 'number' && text.trim() !== '' && Number.isFinite(Number(text))) return Number(text);
  if (typeof current === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  if (current === null && text.trim() === '') return null;
  return text;
}

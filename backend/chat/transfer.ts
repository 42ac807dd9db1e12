import { createHash } from 'node:crypto';
import { z } from 'zod';
import { newId } from '../data/ids.js';
import { newMessage, type Conversation, type Message, type Mutation } from '../data/store.js';
import { invalid } from '../errors.js';
import { activeBranch } from './branches.js';
import type { ConversationService } from './conversations.js';

/**
 * Export and import of conversations. Orchestra's JSON export keeps the whole tree (every
 * branch); Markdown shows the active branch. Import takes Orchestra's JSON or a ChatGPT data
 * export (`conversations.json`) and gives every conversation and message a fresh id. Each
 * imported conversation remembers its source, so importing the same file again adds nothing.
 */

export const EXPORT_FORMAT = 'orchestra.conversation';
export const EXPORT_VERSION = 1;

export interface ExportedMessage {
  id: string;
  parentId: string | null;
  role: Message['role'];
  content: string;
  status: Message['status'];
  model: string | null;
  createdAt: string;
}

export interface ConversationExport {
  format: typeof EXPORT_FORMAT;
  version: number;
  exportedAt: string;
  conversation: {
    id: string;
    title: string;
    createdAt: string;
    updatedAt: string;
    activeLeafId: string | null;
    model: string | null;
    systemPrompt: string | null;
  };
  messages: ExportedMessage[];
}

export async function exportJson(conversations: ConversationService, id: string): Promise<ConversationExport> {
  const c = await conversations.require(id);
  const messages = await conversations.messages(id);
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: new Date().toISOString(),
    conversation: {
      id: c.id,
      title: c.title,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
      activeLeafId: c.activeLeafId ?? null,
      model: c.model ?? null,
      systemPrompt: c.systemPrompt ?? null,
    },
    messages: messages.map((m) => ({
      id: m.id,
      parentId: m.parentId ?? null,
      role: m.role,
      content: m.content,
      status: m.status,
      model: m.model,
      createdAt: m.createdAt,
    })),
  };
}

const ROLE_HEADING: Record<Message['role'], string> = { system: 'System', user: 'User', assistant: 'Assistant' };

export async function exportMarkdown(conversations: ConversationService, id: string): Promise<{ title: string; text: string }> {
  const c = await conversations.require(id);
  const branch = activeBranch(await conversations.messages(id), c.activeLeafId);
  const parts = [`# ${c.title}`, ''];
  if (c.systemPrompt) parts.push('## System', '', c.systemPrompt, '');
  for (const m of branch) {
    const note = m.status === 'complete' ? '' : ` (${m.status})`;
    parts.push(`## ${ROLE_HEADING[m.role]}${note}`, '', m.content, '');
  }
  return { title: c.title, text: parts.join('\n') };
}

// ---- import ---------------------------------------------------------------------------------

const orchestraSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  version: z.number().int(),
  conversation: z.object({
    id: z.string().min(1),
    title: z.string().default('Imported conversation'),
    createdAt: z.string().optional(),
    updatedAt: z.string().optional(),
    activeLeafId: z.string().nullable().optional(),
    model: z.string().nullable().optional(),
    systemPrompt: z.string().nullable().optional(),
  }),
  messages: z.array(
    z.object({
      id: z.string().min(1),
      parentId: z.string().nullable().optional(),
      role: z.enum(['system', 'user', 'assistant']),
      content: z.string(),
      status: z.enum(['complete', 'streaming', 'cancelled', 'error', 'interrupted']).optional(),
      model: z.string().nullable().optional(),
      createdAt: z.string().optional(),
    }),
  ),
});

/** ChatGPT's export, read loosely: any field may be missing (model_slug often is). */
const chatGptNode = z.object({
  id: z.string().optional(),
  parent: z.string().nullable().optional(),
  children: z.array(z.string()).optional(),
  message: z
    .object({
      author: z.object({ role: z.string().optional() }).partial().nullable().optional(),
      content: z.object({ content_type: z.string().optional(), parts: z.array(z.unknown()).optional(), text: z.string().optional() }).partial().nullable().optional(),
      create_time: z.number().nullable().optional(),
      metadata: z.object({ model_slug: z.string().nullable().optional() }).partial().nullable().optional(),
    })
    .nullable()
    .optional(),
});
const chatGptSchema = z.object({
  id: z.string().optional(),
  conversation_id: z.string().optional(),
  title: z.string().nullable().optional(),
  create_time: z.number().nullable().optional(),
  update_time: z.number().nullable().optional(),
  current_node: z.string().nullable().optional(),
  mapping: z.record(z.string(), chatGptNode),
});

type ChatGptConversation = z.infer<typeof chatGptSchema>;

/** A conversation ready to store: fresh ids, parents before children. */
interface Prepared {
  sourceKey: string;
  conversation: Conversation;
  messages: Message[];
}

const isoOf = (seconds: number | null | undefined, fallback: string): string =>
  typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : fallback;

const clean = (text: string): string => text.replaceAll(String.fromCharCode(0), '');

function fromOrchestra(input: z.infer<typeof orchestraSchema>, now: string): Prepared {
  const ids = new Map<string, string>();
  const known = new Set(input.messages.map((m) => m.id));
  // Parents before children, then creation order: fresh ids keep siblings in their order.
  const ordered: typeof input.messages = [];
  const children = new Map<string | null, typeof input.messages>();
  for (const m of [...input.messages].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const parent = m.parentId && known.has(m.parentId) ? m.parentId : null;
    children.set(parent, [...(children.get(parent) ?? []), m]);
  }
  const walk = (parent: string | null): void => {
    for (const m of children.get(parent) ?? []) {
      ordered.push(m);
      walk(m.id);
    }
  };
  walk(null);
  const conversationId = newId();
  const messages = ordered.map((m) => {
    const id = newId();
    ids.set(m.id, id);
    const parentId = m.parentId ? (ids.get(m.parentId) ?? null) : null;
    const status = m.status === 'streaming' ? 'interrupted' : (m.status ?? 'complete');
    return newMessage({ id, conversationId, role: m.role, content: clean(m.content), status, model: m.model ?? null, createdAt: m.createdAt ?? now, parentId });
  });
  const c = input.conversation;
  return {
    sourceKey: `orchestra:${c.id}`,
    conversation: {
      id: conversationId,
      title: c.title.slice(0, 200) || 'Imported conversation',
      createdAt: c.createdAt ?? now,
      updatedAt: now,
      activeLeafId: (c.activeLeafId && ids.get(c.activeLeafId)) ?? messages[messages.length - 1]?.id ?? null,
      model: c.model ?? null,
      systemPrompt: c.systemPrompt ?? null,
      sourceKey: `orchestra:${c.id}`,
    },
    messages,
  };
}

function textOf(node: z.infer<typeof chatGptNode>): string {
  const content = node.message?.content;
  if (!content) return '';
  if (typeof content.text === 'string') return content.text;
  return (content.parts ?? []).filter((p): p is string => typeof p === 'string').join('\n');
}

function fromChatGpt(input: ChatGptConversation, now: string): Prepared {
  const mapping = input.mapping;
  const kept = (key: string): boolean => {
    const role = mapping[key]?.message?.author?.role;
    return (role === 'user' || role === 'assistant') && textOf(mapping[key] ?? {}).length > 0;
  };
  // System, tool and empty nodes are skipped: their children hang on the nearest kept ancestor.
  const keptParent = (key: string): string | null => {
    const seen = new Set<string>();
    let parent = mapping[key]?.parent ?? null;
    while (parent !== null && parent !== undefined && mapping[parent] && !seen.has(parent)) {
      if (kept(parent)) return parent;
      seen.add(parent);
      parent = mapping[parent]?.parent ?? null;
    }
    return null;
  };
  const children = new Map<string | null, string[]>();
  const keys = Object.keys(mapping);
  const position = new Map<string, number>();
  // Sibling order: as listed in the parent's children, then by creation time.
  keys.forEach((k, i) => position.set(k, i));
  for (const k of keys) for (const [i, child] of (mapping[k]?.children ?? []).entries()) position.set(child, i - 1e9 + (position.get(k) ?? 0) * 1e3);
  for (const key of keys.filter(kept)) {
    const parent = keptParent(key);
    children.set(parent, [...(children.get(parent) ?? []), key]);
  }
  for (const list of children.values()) {
    list.sort((a, b) => (mapping[a]?.message?.create_time ?? 0) - (mapping[b]?.message?.create_time ?? 0) || (position.get(a) ?? 0) - (position.get(b) ?? 0));
  }
  const created = isoOf(input.create_time, now);
  const conversationId = newId();
  const ids = new Map<string, string>();
  const messages: Message[] = [];
  const walk = (parent: string | null, seen: Set<string>): void => {
    for (const key of children.get(parent) ?? []) {
      if (seen.has(key)) continue;
      seen.add(key);
      const node = mapping[key];
      const id = newId();
      ids.set(key, id);
      messages.push(
        newMessage({
          id,
          conversationId,
          role: node?.message?.author?.role === 'user' ? 'user' : 'assistant',
          content: clean(textOf(node ?? {})),
          status: 'complete',
          model: node?.message?.metadata?.model_slug ?? null,
          createdAt: isoOf(node?.message?.create_time, created),
          parentId: parent === null ? null : (ids.get(parent) ?? null),
        }),
      );
      walk(key, seen);
    }
  };
  walk(null, new Set());
  // The active branch follows current_node (or its nearest kept ancestor).
  let leaf: string | undefined;
  const current = input.current_node ?? undefined;
  if (current !== undefined && mapping[current]) leaf = kept(current) ? ids.get(current) : (ids.get(keptParent(current) ?? '') ?? undefined);
  const source = input.conversation_id ?? input.id ?? createHash('sha256').update(JSON.stringify([input.title, input.create_time, keys.sort()])).digest('hex').slice(0, 32);
  return {
    sourceKey: `chatgpt:${source}`,
    conversation: {
      id: conversationId,
      title: (input.title ?? '').slice(0, 200) || 'Imported conversation',
      createdAt: created,
      updatedAt: isoOf(input.update_time, now),
      activeLeafId: leaf ?? messages[messages.length - 1]?.id ?? null,
      model: null,
      systemPrompt: null,
      sourceKey: `chatgpt:${source}`,
    },
    messages,
  };
}

/** Reads an import body: one or many Orchestra exports, or ChatGPT's list of conversations. */
export function parseImport(body: unknown, now = new Date().toISOString()): Prepared[] {
  const items = Array.isArray(body) ? body : [body];
  if (items.length === 0) throw invalid('nothing to import: the file holds no conversation');
  return items.map((item, index) => {
    const orchestra = orchestraSchema.safeParse(item);
    if (orchestra.success) return fromOrchestra(orchestra.data, now);
    const chatgpt = chatGptSchema.safeParse(item);
    if (chatgpt.success) return fromChatGpt(chatgpt.data, now);
    throw invalid(`item ${index} is neither an Orchestra export nor a ChatGPT conversation (with a mapping)`, { field: `${index}` });
  });
}

/** Stores what is new; a conversation imported before (same source) is returned, not duplicated. */
export async function importConversations(conversations: ConversationService, body: unknown): Promise<string[]> {
  const prepared = parseImport(body);
  const out: string[] = [];
  for (const p of prepared) {
    const existing = await conversations.findBySource(p.sourceKey);
    if (existing) {
      out.push(existing.id);
      continue;
    }
    const mutations: Mutation[] = [{ kind: 'conversation.upsert', row: p.conversation }, ...p.messages.map((row) => ({ kind: 'message.upsert' as const, row }))];
    await conversations.write(p.conversation.id, mutations);
    conversations.announce(p.conversation);
    out.push(p.conversation.id);
  }
  return out;
}

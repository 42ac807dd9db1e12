import type { BranchMessage, Message } from '../data/store.js';

/**
 * Messages form a tree (each names its parent); a conversation shows one branch of it, the path
 * from a root to its active leaf. These functions work on a conversation's whole message list,
 * which is small enough to hold at once.
 */

const byId = (a: Message, b: Message): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Children of each message (key null: the roots), each list in creation order. */
export function childrenOf(messages: readonly Message[]): Map<string | null, Message[]> {
  const known = new Set(messages.map((m) => m.id));
  const out = new Map<string | null, Message[]>();
  for (const m of [...messages].sort(byId)) {
    // A parent that is not in the list (a partial replica) makes the message a root.
    const parent = m.parentId !== undefined && m.parentId !== null && known.has(m.parentId) ? m.parentId : null;
    const list = out.get(parent);
    if (list) list.push(m);
    else out.set(parent, [m]);
  }
  return out;
}

/** From a message down to a leaf, taking the newest child at each step. */
export function leafUnder(messages: readonly Message[], id: string, children = childrenOf(messages)): string {
  let current = id;
  for (;;) {
    const kids = children.get(current);
    const newest = kids?.[kids.length - 1];
    if (!newest) return current;
    current = newest.id;
  }
}

/** The messages from the root to `leafId`, in order; empty when the leaf is unknown. */
export function pathTo(messages: readonly Message[], leafId: string | null | undefined): Message[] {
  if (leafId === null || leafId === undefined) return [];
  const index = new Map(messages.map((m) => [m.id, m]));
  const path: Message[] = [];
  const seen = new Set<string>();
  for (let m = index.get(leafId); m && !seen.has(m.id); m = m.parentId ? index.get(m.parentId) : undefined) {
    seen.add(m.id);
    path.push(m);
  }
  return path.reverse();
}

/** The leaf a conversation shows: its active leaf (extended down to a leaf), else the newest message. */
export function activeLeaf(messages: readonly Message[], activeLeafId: string | null | undefined): string | null {
  if (messages.length === 0) return null;
  const children = childrenOf(messages);
  if (activeLeafId && messages.some((m) => m.id === activeLeafId)) return leafUnder(messages, activeLeafId, children);
  const newest = [...messages].sort(byId)[messages.length - 1];
  return newest ? newest.id : null;
}

/** The active branch with each message's place among its siblings (1-based). */
export function activeBranch(messages: readonly Message[], activeLeafId: string | null | undefined): BranchMessage[] {
  const children = childrenOf(messages);
  const known = new Set(messages.map((m) => m.id));
  return pathTo(messages, activeLeaf(messages, activeLeafId)).map((m) => {
    const parent = m.parentId && known.has(m.parentId) ? m.parentId : null;
    const ids = (children.get(parent) ?? [m]).map((s) => s.id);
    return { ...m, siblings: { index: ids.indexOf(m.id) + 1, count: ids.length, ids } };
  });
}

/** The prompt history: finished turns only (a cancelled or failed reply without text is left out). */
export function promptOf(path: readonly Message[]): Array<{ role: Message['role']; content: string }> {
  return path
    .filter((m) => m.status === 'complete' || (m.role === 'assistant' && m.content.length > 0 && m.status !== 'streaming'))
    .map((m) => ({ role: m.role, content: m.content }));
}

import type { ChatTurn } from '../providers/types.js';

/** Roles a conversation stores as messages; system and tool turns only travel to the provider. */
const isStorable = (turn: { role: string }): boolean => turn.role === 'user' || turn.role === 'assistant';

/**
 * The turns of `sent` that the conversation does not hold yet. Clients that resend the whole
 * history on every request (OpenAI's protocol) would otherwise store each turn again and again:
 * the stored turns are matched, in order, as a prefix of the sent ones, and only what follows
 * the match is new. A client that rewrote history stores its turns from the first difference.
 */
export function newTurnsOf(stored: ReadonlyArray<{ role: string; content: string }>, sent: ChatTurn[]): ChatTurn[] {
  const held = stored.filter(isStorable);
  const candidates = sent.filter(isStorable);
  let matched = 0;
  while (matched < held.length && matched < candidates.length) {
    const a = held[matched];
    const b = candidates[matched];
    if (a === undefined || b === undefined || a.role !== b.role || a.content !== b.content) break;
    matched++;
  }
  return candidates.slice(matched);
}

/** The text a new conversation's title is made from: its first user turn. */
export function titleSourceOf(turns: ChatTurn[]): string {
  return turns.find((t) => t.role === 'user')?.content ?? '';
}

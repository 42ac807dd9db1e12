import type { SearchHit } from './contract.js';

/**
 * One search result per conversation. The search API ranks title matches and message matches
 * side by side, so a conversation whose title and text both match would show up twice, both
 * opening the same place. A person looks for a conversation, then for the spot in it: each
 * conversation appears once, where its best hit ranked, and opens at its best-ranked matching
 * message (or at its end when only the title matched).
 */
export interface SearchResult {
  conversationId: string;
  title: string;
  /** The best-ranked matching message, or null when only the title matched. */
  messageId: string | null;
  /** Text around the match in that message, else the title. */
  snippet: string;
  createdAt: string;
  titleMatched: boolean;
  /** How many of the returned hits are messages of this conversation. */
  messageMatches: number;
}

export function groupHits(items: readonly SearchHit[]): SearchResult[] {
  const byConversation = new Map<string, SearchResult>();
  for (const hit of items) {
    const messageId = hit.messageId ?? null;
    let result = byConversation.get(hit.conversationId);
    if (result === undefined) {
      result = {
        conversationId: hit.conversationId,
        title: hit.title,
        messageId: null,
        snippet: hit.snippet,
        createdAt: hit.createdAt,
        titleMatched: false,
        messageMatches: 0,
      };
      byConversation.set(hit.conversationId, result);
    }
    if (messageId === null) {
      result.titleMatched = true;
      continue;
    }
    result.messageMatches++;
    if (result.messageId === null) {
      result.messageId = messageId;
      result.snippet = hit.snippet;
      result.createdAt = hit.createdAt;
    }
  }
  return [...byConversation.values()];
}

/** What the result says besides its title and snippet, e.g. "title · 3 messages". */
export function matchSummary(result: SearchResult): string {
  const parts: string[] = [];
  if (result.titleMatched) parts.push('title');
  if (result.messageMatches > 0) parts.push(`${result.messageMatches} message${result.messageMatches === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

import { forwardRef, useEffect, useState } from 'react';
import { api, ApiError } from '../lib/api.js';
import { relativeTime } from '../lib/format.js';
import { groupHits, matchSummary, type SearchResult } from '../lib/search.js';

/**
 * Search over every conversation's title and text (GET /api/search), as you type: one result per
 * conversation, opening it at its best matching message.
 */
export const SearchBox = forwardRef<HTMLInputElement, { onOpen: (conversationId: string, messageId: string | null) => void }>(function SearchBox(
  { onOpen },
  ref,
) {
  const [query, setQuery] = useState('');
  const [result, setResult] = useState<{ q: string; items: SearchResult[] } | { q: string; error: string } | null>(null);

  useEffect(() => {
    const q = query.trim();
    if (q === '') {
      setResult(null);
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      api.search(q).then(
        (body) => live && setResult({ q, items: groupHits(body.items) }),
        (err: unknown) => live && setResult({ q, error: err instanceof ApiError ? err.message : String(err) }),
      );
    }, 200);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [query]);

  return (
    <div className="search" role="search">
      <input
        ref={ref}
        type="search"
        className="search-input"
        data-testid="search-input"
        aria-label="Search conversations"
        placeholder="Search  (Ctrl+K)"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.stopPropagation();
            setQuery('');
          }
        }}
      />
      {result === null ? null : 'error' in result ? (
        <p className="muted small pad" data-testid="search-error">
          Search failed: {result.error}
        </p>
      ) : result.items.length === 0 ? (
        <p className="muted small pad" data-testid="search-empty">
          Nothing matches “{result.q}”.
        </p>
      ) : (
        <ul className="search-results" data-testid="search-results" aria-label="Search results">
          {result.items.map((hit) => (
            <li key={hit.conversationId}>
              <button
                type="button"
                className="search-result"
                data-testid="search-result"
                data-conversation-id={hit.conversationId}
                data-message-id={hit.messageId ?? ''}
                onClick={() => {
                  setQuery('');
                  onOpen(hit.conversationId, hit.messageId);
                }}
              >
                <span className="search-title">{hit.title}</span>
                <span className="search-snippet">{hit.snippet}</span>
                <span className="search-meta">
                  <span data-testid="search-matches">{matchSummary(hit)}</span>
                  <span className="conversation-time">{relativeTime(hit.createdAt)}</span>
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
});

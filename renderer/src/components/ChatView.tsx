import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { streamingMessageId, visibleContent, type ChatState } from '../lib/chat-state.js';
import { describeProblem } from '../lib/problems.js';
import { Composer } from './Composer.js';
import { CloseIcon } from './Icons.js';
import { MessageItem } from './MessageItem.js';
import { NoProviderHelp } from './NoProviderHelp.js';

const SUGGESTIONS = [
  'Write a TypeScript function that debounces another function',
  'Explain circuit breakers in two paragraphs',
  'Show a Python snippet that sums one column of a CSV file',
];

export interface ChatViewProps {
  state: ChatState;
  connected: boolean;
  onSend: (text: string) => boolean;
  onStop: (messageId: string) => void;
  onDismissProblem: () => void;
  onOpenSettings?: (() => void) | undefined;
  restore: { text: string; n: number } | null;
}

export function ChatView({ state, connected, onSend, onStop, onDismissProblem, onOpenSettings, restore }: ChatViewProps) {
  const list = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const [suggestion, setSuggestion] = useState<{ text: string; n: number } | null>(null);
  const active = state.conversations.find((c) => c.id === state.activeId);
  const streamingId = streamingMessageId(state);
  const problem = state.problem;

  // Follow the reply while it streams, unless the reader scrolled up to read something.
  useLayoutEffect(() => {
    const el = list.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });
  useEffect(() => {
    stick.current = true;
  }, [state.activeId]);

  const title = active?.title ?? (state.activeId ? '' : 'New conversation');
  const composerRestore = suggestion && (!restore || suggestion.n > restore.n) ? suggestion : restore;

  return (
    <section className="chat" data-testid="chat-view">
      <header className="chat-header">
        <h2 data-testid="chat-title" title={title}>
          {title}
        </h2>
        {state.loading ? <span className="muted small">Loading…</span> : null}
      </header>
      <div
        className="message-list"
        data-testid="message-list"
        ref={list}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
      >
        {state.messages.length === 0 && !state.loading ? (
          <div className="empty-chat" data-testid="empty-chat">
            <div className="brand-mark large" aria-hidden="true">♪</div>
            <h3>What can I help you with?</h3>
            <p className="muted">Replies stream in live; code in them is checked against your governance rules.</p>
            <div className="suggestions">
              {SUGGESTIONS.map((s) => (
                <button key={s} type="button" className="suggestion" onClick={() => setSuggestion({ text: s, n: Date.now() })}>
                  {s}
                </button>
              ))}
            </div>
          </div>
        ) : (
          <div className="messages">
            {state.messages.map((m) => (
              <MessageItem key={m.id} message={m} content={visibleContent(state, m)} partial={state.streams[m.id]?.partial ?? false} />
            ))}
          </div>
        )}
      </div>
      {problem && problem.code === 'no-provider' ? (
        <div className="problem-area">
          <NoProviderHelp problem={problem} onOpenSettings={onOpenSettings} />
          <button type="button" className="icon-button dismiss" aria-label="Dismiss" onClick={onDismissProblem}>
            <CloseIcon />
          </button>
        </div>
      ) : problem ? (
        <div className="problem-area">
          <div className="notice notice-error" data-testid="chat-error" data-code={problem.code} role="alert">
            <strong>{describeProblem(problem).title}.</strong> {describeProblem(problem).hint}
            <div className="problem-detail">
              <code>{problem.code}</code> {problem.message}
            </div>
          </div>
          <button type="button" className="icon-button dismiss" aria-label="Dismiss" onClick={onDismissProblem}>
            <CloseIcon />
          </button>
        </div>
      ) : null}
      <Composer
        disabled={!connected || state.loading}
        streaming={streamingId !== null || state.sending}
        onSend={onSend}
        onStop={() => {
          if (streamingId !== null) onStop(streamingId);
        }}
        restore={composerRestore}
      />
    </section>
  );
}

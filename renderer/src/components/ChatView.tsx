import { useEffect, useLayoutEffect, useRef, useState, type ReactNode, type RefObject } from 'react';
import { streamingMessageId, visibleContent, type ChatState } from '../lib/chat-state.js';
import type { BranchFields, ConversationOptions, Message } from '../lib/contract.js';
import { describeProblem } from '../lib/problems.js';
import { Composer, type ComposerEditing } from './Composer.js';
import { CloseIcon, MenuIcon } from './Icons.js';
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
  /** Opens the conversation drawer (narrow screens). */
  onToggleSidebar: () => void;
  sidebarOpen: boolean;
  models: string[];
  options: ConversationOptions;
  onModel: (model: string) => void;
  onSystemPrompt: (prompt: string) => Promise<boolean>;
  onRetry: (message: Message) => void;
  onRegenerate: (message: Message) => void;
  onEdit: (message: Message & BranchFields) => void;
  onSwitchVersion: (messageId: string) => void;
  editing: ComposerEditing | null;
  onCancelEdit: () => void;
  onEditLast: () => void;
  composerRef: RefObject<HTMLTextAreaElement | null>;
  banner?: ReactNode;
  /** A search result opened the conversation here: show this message, marked. */
  foundMessageId?: string | null;
}

export function ChatView(props: ChatViewProps) {
  const { state, connected, onSend, onStop, onDismissProblem, onOpenSettings, restore } = props;
  const list = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const [suggestion, setSuggestion] = useState<{ text: string; n: number } | null>(null);
  const [promptOpen, setPromptOpen] = useState(false);
  const active = state.conversations.find((c) => c.id === state.activeId);
  const streamingId = streamingMessageId(state);
  const problem = state.problem;

  // Follow the reply while it streams, unless the reader scrolled up to read something. Reading
  // scrollHeight forces a layout; done in every render it laid out a long reply several times a
  // frame (the longest task while streaming). A new message or another conversation scrolls at
  // once; streamed text scrolls once per frame, with the layout the frame needs anyway.
  const follow = useRef<number | null>(null);
  const shape = `${state.activeId ?? ''}:${state.messages.length}:${state.loading ? 1 : 0}`;
  const lastShape = useRef('');
  useLayoutEffect(() => {
    const el = list.current;
    if (!el || !stick.current) return;
    if (shape !== lastShape.current) {
      lastShape.current = shape;
      el.scrollTop = el.scrollHeight;
      return;
    }
    follow.current ??= requestAnimationFrame(() => {
      follow.current = null;
      const now = list.current;
      if (now && stick.current) now.scrollTop = now.scrollHeight;
    });
  });
  useEffect(
    () => () => {
      if (follow.current !== null) cancelAnimationFrame(follow.current);
    },
    [],
  );
  useEffect(() => {
    stick.current = true;
    setPromptOpen(false);
  }, [state.activeId]);
  // Sending follows the conversation again, even after a search result scrolled up to a hit.
  useEffect(() => {
    if (state.sending) stick.current = true;
  }, [state.sending]);
  const foundId = props.foundMessageId ?? null;
  const foundShown = foundId !== null && state.messages.some((m) => m.id === foundId);
  useLayoutEffect(() => {
    if (!foundShown) return;
    const el = list.current?.querySelector(`[data-id="${CSS.escape(foundId)}"]`);
    if (!el) return;
    stick.current = false;
    el.scrollIntoView({ block: 'center' });
  }, [foundId, foundShown]);

  const title = active?.title ?? (state.activeId ? '' : 'New conversation');
  const composerRestore = suggestion && (!restore || suggestion.n > restore.n) ? suggestion : restore;
  const lastAssistant = [...state.messages].reverse().find((m) => m.role === 'assistant');

  return (
    <section className="chat" data-testid="chat-view" aria-label="Chat">
      <header className="chat-header">
        <button
          type="button"
          className="icon-button sidebar-toggle"
          data-testid="sidebar-toggle"
          aria-label={props.sidebarOpen ? 'Close the conversation list' : 'Open the conversation list'}
          aria-expanded={props.sidebarOpen}
          onClick={props.onToggleSidebar}
        >
          <MenuIcon />
        </button>
        <h1 className="chat-title" data-testid="chat-title" title={title}>
          {title}
        </h1>
        {state.loading ? <span className="muted small">Loading…</span> : null}
        <div className="chat-tools">
          <label className="sr-only" htmlFor="model-picker">
            Model
          </label>
          <select
            id="model-picker"
            className="model-picker"
            data-testid="model-picker"
            value={props.options.model ?? ''}
            onChange={(e) => props.onModel(e.target.value)}
          >
            <option value="">Default model</option>
            {props.models.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
            {props.options.model && !props.models.includes(props.options.model) ? <option value={props.options.model}>{props.options.model}</option> : null}
          </select>
          {state.activeId ? (
            <>
              <button
                type="button"
                className="button small"
                data-testid="system-prompt-button"
                aria-expanded={promptOpen}
                onClick={() => setPromptOpen((v) => !v)}
              >
                System prompt
              </button>
              <ExportMenu conversationId={state.activeId} />
            </>
          ) : null}
        </div>
      </header>
      {promptOpen && state.activeId ? (
        <SystemPromptEditor initial={props.options.systemPrompt ?? ''} onSave={props.onSystemPrompt} onClose={() => setPromptOpen(false)} />
      ) : null}
      {props.banner}
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
            <h2>What can I help you with?</h2>
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
            {state.messages.map((m: Message & BranchFields) => (
              <MessageItem
                key={m.id}
                message={m}
                content={visibleContent(state, m)}
                partial={state.streams[m.id]?.partial ?? false}
                errorShownAbove={problem?.messageId === m.id}
                found={m.id === foundId}
                actions={{
                  onRetry: () => props.onRetry(m),
                  onRegenerate: m.id === lastAssistant?.id && streamingId === null ? () => props.onRegenerate(m) : undefined,
                  onEdit: m.role === 'user' && streamingId === null ? () => props.onEdit(m) : undefined,
                  onSwitchVersion: props.onSwitchVersion,
                }}
              />
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
        inputRef={props.composerRef}
        disabled={!connected || state.loading}
        streaming={streamingId !== null || state.sending}
        onSend={onSend}
        onStop={() => {
          if (streamingId !== null) onStop(streamingId);
        }}
        restore={composerRestore}
        editing={props.editing}
        onCancelEdit={props.onCancelEdit}
        onEditLast={props.onEditLast}
      />
    </section>
  );
}

/**
 * Export as a download. The menu closes once a format is chosen (the link stays in the page, so
 * the download still starts), when focus or a click goes elsewhere, and on Escape: a menu left
 * open would make the next click on Export close it instead of opening it.
 */
function ExportMenu({ conversationId }: { conversationId: string }) {
  const base = `/api/conversations/${encodeURIComponent(conversationId)}/export`;
  const menu = useRef<HTMLDetailsElement>(null);
  const close = (): void => {
    if (menu.current) menu.current.open = false;
  };
  useEffect(() => {
    const onPointer = (e: PointerEvent): void => {
      if (menu.current?.open && !menu.current.contains(e.target as Node)) close();
    };
    document.addEventListener('pointerdown', onPointer);
    return () => document.removeEventListener('pointerdown', onPointer);
  }, []);
  return (
    <details
      className="export-menu"
      ref={menu}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && menu.current?.open) {
          e.stopPropagation();
          close();
          menu.current.querySelector('summary')?.focus();
        }
      }}
    >
      <summary className="button small" data-testid="export-button">
        Export
      </summary>
      <div className="menu">
        <a href={`${base}?format=md`} download data-testid="export-md" onClick={close}>
          Markdown
        </a>
        <a href={`${base}?format=json`} download data-testid="export-json" onClick={close}>
          JSON
        </a>
      </div>
    </details>
  );
}

function SystemPromptEditor({ initial, onSave, onClose }: { initial: string; onSave: (prompt: string) => Promise<boolean>; onClose: () => void }) {
  const [text, setText] = useState(initial);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="system-prompt"
      data-testid="system-prompt"
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        onSave(text).then(
          (ok) => {
            setBusy(false);
            if (ok) onClose();
          },
          () => setBusy(false),
        );
      }}
    >
      <label htmlFor="system-prompt-input">System prompt for this conversation</label>
      <textarea
        id="system-prompt-input"
        data-testid="system-prompt-input"
        rows={3}
        value={text}
        placeholder="You are a concise assistant…"
        onChange={(e) => setText(e.target.value)}
      />
      <div className="row">
        <button type="button" className="button small" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="button primary small" data-testid="system-prompt-save" disabled={busy}>
          Save
        </button>
      </div>
    </form>
  );
}

import { memo, useEffect, useRef, useState, type FormEvent } from 'react';
import type { Conversation } from '../lib/contract.js';
import { relativeTime } from '../lib/format.js';
import { CheckIcon, PencilIcon, TrashIcon } from './Icons.js';

interface ItemProps {
  conversation: Conversation;
  active: boolean;
  onOpen: (id: string) => void;
  onRename: (id: string, title: string) => Promise<boolean>;
  onDelete: (id: string) => Promise<boolean>;
}

function ConversationItem({ conversation, active, onOpen, onRename, onDelete }: ItemProps) {
  const [mode, setMode] = useState<'view' | 'rename' | 'confirm-delete'>('view');
  const [title, setTitle] = useState(conversation.title);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (mode === 'rename') input.current?.select();
  }, [mode]);

  const saveRename = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const next = title.trim();
    if (next === '' || next === conversation.title) {
      setMode('view');
      return;
    }
    setBusy(true);
    const ok = await onRename(conversation.id, next);
    setBusy(false);
    if (ok) setMode('view');
  };

  const confirmDelete = async (): Promise<void> => {
    setBusy(true);
    const ok = await onDelete(conversation.id);
    setBusy(false);
    if (!ok) setMode('view');
  };

  return (
    <li className={`conversation${active ? ' active' : ''}`} data-testid="conversation-item" data-id={conversation.id}>
      {mode === 'rename' ? (
        <form className="rename-form" onSubmit={(e) => void saveRename(e)}>
          <input
            ref={input}
            data-testid="rename-input"
            aria-label="Conversation title"
            value={title}
            maxLength={200}
            disabled={busy}
            onChange={(e) => setTitle(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Escape') {
                setTitle(conversation.title);
                setMode('view');
              }
            }}
          />
          <button type="submit" className="icon-button" data-testid="rename-save" disabled={busy} title="Save" aria-label="Save title">
            <CheckIcon />
          </button>
        </form>
      ) : mode === 'confirm-delete' ? (
        <div className="confirm-delete">
          <span>Delete this conversation?</span>
          <button type="button" className="button danger small" data-testid="confirm-delete" disabled={busy} onClick={() => void confirmDelete()}>
            Delete
          </button>
          <button type="button" className="button small" data-testid="cancel-delete" disabled={busy} onClick={() => setMode('view')}>
            Keep
          </button>
        </div>
      ) : (
        <>
          <button
            type="button"
            className="conversation-open"
            onClick={() => onOpen(conversation.id)}
            aria-current={active ? 'page' : undefined}
            title={conversation.title}
          >
            <span className="conversation-title" data-testid="conversation-title">
              {conversation.title}
            </span>
            <span className="conversation-time">{relativeTime(conversation.updatedAt)}</span>
          </button>
          <span className="conversation-actions">
            <button
              type="button"
              className="icon-button"
              data-testid="conversation-rename"
              title="Rename"
              aria-label={`Rename ${conversation.title}`}
              onClick={() => {
                setTitle(conversation.title);
                setMode('rename');
              }}
            >
              <PencilIcon />
            </button>
            <button
              type="button"
              className="icon-button"
              data-testid="conversation-delete"
              title="Delete"
              aria-label={`Delete ${conversation.title}`}
              onClick={() => setMode('confirm-delete')}
            >
              <TrashIcon />
            </button>
          </span>
        </>
      )}
    </li>
  );
}

export interface ConversationListProps {
  conversations: Conversation[];
  loaded: boolean;
  activeId: string | null;
  onOpen: (id: string) => void;
  onRename: (id: string, title: string) => Promise<boolean>;
  onDelete: (id: string) => Promise<boolean>;
}

/** Memoized: a batch of streamed tokens re-renders the window, not this list. */
export const ConversationList = memo(function ConversationList({ conversations, loaded, activeId, onOpen, onRename, onDelete }: ConversationListProps) {
  if (!loaded) return <div className="muted small pad">Loading conversations…</div>;
  if (conversations.length === 0) {
    return (
      <div className="muted small pad" data-testid="conversation-list-empty">
        No conversations yet. Ask something to start one.
      </div>
    );
  }
  return (
    <ul className="conversation-list" data-testid="conversation-list">
      {conversations.map((c) => (
        <ConversationItem key={c.id} conversation={c} active={c.id === activeId} onOpen={onOpen} onRename={onRename} onDelete={onDelete} />
      ))}
    </ul>
  );
});

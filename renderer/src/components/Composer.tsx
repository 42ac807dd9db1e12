import { useEffect, useState, type FormEvent, type KeyboardEvent, type RefObject } from 'react';
import { MAX_MESSAGE_CHARS } from '../lib/limits.js';

export interface ComposerEditing {
  messageId: string;
  text: string;
}

export interface ComposerProps {
  disabled: boolean;
  streaming: boolean;
  onSend: (text: string) => boolean;
  onStop: () => void;
  /** Text put back into the box (a send that failed, a suggestion clicked). */
  restore: { text: string; n: number } | null;
  /** A sent message being edited: sending makes a new branch from it. */
  editing: ComposerEditing | null;
  onCancelEdit: () => void;
  /** ↑ in an empty box. */
  onEditLast: () => void;
  inputRef: RefObject<HTMLTextAreaElement | null>;
}

/** The message box: Enter sends, Shift+Enter adds a line; Stop replaces Send while a reply streams. */
export function Composer({ disabled, streaming, onSend, onStop, restore, editing, onCancelEdit, onEditLast, inputRef }: ComposerProps) {
  const [text, setText] = useState('');
  const box = inputRef;

  useEffect(() => {
    if (restore === null) return;
    setText(restore.text);
    box.current?.focus();
  }, [restore, box]);

  useEffect(() => {
    if (editing === null) return;
    setText(editing.text);
    box.current?.focus();
  }, [editing, box]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
  }, [text, box]);

  const tooLong = text.length > MAX_MESSAGE_CHARS;

  const submit = (event?: FormEvent): void => {
    event?.preventDefault();
    if (streaming || disabled || tooLong || text.trim() === '') return;
    if (onSend(text)) setText('');
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) submit(event);
    else if (event.key === 'ArrowUp' && text === '' && !event.shiftKey && !event.altKey) {
      event.preventDefault();
      onEditLast();
    } else if (event.key === 'Escape' && editing !== null) {
      event.stopPropagation();
      setText('');
      onCancelEdit();
    }
  };

  return (
    <form className="composer-wrap" onSubmit={submit}>
      {editing ? (
        <div className="composer-note" data-testid="editing-note">
          Editing a sent message: sending makes a new version of the conversation from there.{' '}
          <button
            type="button"
            className="link-button"
            onClick={() => {
              setText('');
              onCancelEdit();
            }}
          >
            Cancel
          </button>
        </div>
      ) : null}
      {tooLong ? (
        <div className="composer-note notice-error" data-testid="too-long" role="alert">
          This message is {text.length.toLocaleString('en-US')} characters; the server accepts at most {MAX_MESSAGE_CHARS.toLocaleString('en-US')}. Shorten it
          or attach less text.
        </div>
      ) : null}
      <div className="composer" data-testid="composer">
        <textarea
          ref={box}
          data-testid="composer-input"
          aria-label="Message"
          aria-invalid={tooLong}
          placeholder={disabled ? 'Waiting for the server…' : 'Message Orchestra…'}
          title="Enter sends, Shift+Enter adds a line, ↑ edits your last message"
          value={text}
          rows={1}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          autoFocus
        />
        {streaming ? (
          <button type="button" className="button stop" data-testid="stop-button" onClick={onStop} title="Stop the reply (Esc)">
            <span className="stop-square" aria-hidden="true" /> Stop
          </button>
        ) : (
          <button type="submit" className="button primary send" data-testid="send-button" disabled={disabled || tooLong || text.trim() === ''}>
            Send
          </button>
        )}
      </div>
    </form>
  );
}

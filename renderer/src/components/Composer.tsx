import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';

export interface ComposerProps {
  disabled: boolean;
  streaming: boolean;
  onSend: (text: string) => boolean;
  onStop: () => void;
  /** Text put back into the box (a send that failed, a suggestion clicked). */
  restore: { text: string; n: number } | null;
}

/** The message box: Enter sends, Shift+Enter adds a line; Stop replaces Send while a reply streams. */
export function Composer({ disabled, streaming, onSend, onStop, restore }: ComposerProps) {
  const [text, setText] = useState('');
  const box = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (restore === null) return;
    setText(restore.text);
    box.current?.focus();
  }, [restore]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
  }, [text]);

  const submit = (event?: FormEvent): void => {
    event?.preventDefault();
    if (streaming || disabled || text.trim() === '') return;
    if (onSend(text)) setText('');
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) submit(event);
  };

  return (
    <form className="composer" onSubmit={submit} data-testid="composer">
      <textarea
        ref={box}
        data-testid="composer-input"
        aria-label="Message"
        placeholder={disabled ? 'Waiting for the server…' : 'Message Orchestra…  (Enter to send, Shift+Enter for a new line)'}
        value={text}
        rows={1}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        autoFocus
      />
      {streaming ? (
        <button type="button" className="button stop" data-testid="stop-button" onClick={onStop} title="Stop the reply">
          <span className="stop-square" aria-hidden="true" /> Stop
        </button>
      ) : (
        <button type="submit" className="button primary send" data-testid="send-button" disabled={disabled || text.trim() === ''}>
          Send
        </button>
      )}
    </form>
  );
}

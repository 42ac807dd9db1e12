import type { Message } from '../lib/contract.js';
import { formatMs, formatNumber } from '../lib/format.js';
import { describeProblem } from '../lib/problems.js';
import { MessageContent } from './MessageContent.js';
import { ValidationView } from './ValidationView.js';

const STATUS_TEXT: Partial<Record<Message['status'], string>> = {
  streaming: 'Streaming',
  cancelled: 'Cancelled',
  error: 'Failed',
  interrupted: 'Interrupted',
};

const STATUS_HINT: Partial<Record<Message['status'], string>> = {
  cancelled: 'Stopped before the end; the text received so far was kept.',
  interrupted: 'The server stopped while this reply was streaming; the text received so far was kept.',
};

function Meta({ message }: { message: Message }) {
  const parts: string[] = [];
  if (message.model) parts.push(message.model);
  if (message.completionTokens !== null) parts.push(`${formatNumber(message.completionTokens)} tokens`);
  if (message.ttftMs !== null) parts.push(`first token ${formatMs(message.ttftMs)}`);
  if (message.durationMs !== null) parts.push(formatMs(message.durationMs));
  if (parts.length === 0) return null;
  return <div className="message-meta">{parts.join(' · ')}</div>;
}

export function MessageItem({ message, content, partial }: { message: Message; content: string; partial: boolean }) {
  const streaming = message.status === 'streaming';
  const statusText = STATUS_TEXT[message.status];
  const isUser = message.role === 'user';
  return (
    <article
      className={`message message-${message.role} status-${message.status}`}
      data-testid="message"
      data-role={message.role}
      data-status={message.status}
      data-id={message.id}
      aria-busy={streaming}
    >
      <div className="avatar" aria-hidden="true">
        {isUser ? 'You' : '♪'}
      </div>
      <div className="message-body">
        <header className="message-header">
          <span className="author">{isUser ? 'You' : 'Orchestra'}</span>
          {statusText ? (
            <span className={`chip chip-${message.status}`} data-testid="message-status" title={STATUS_HINT[message.status]}>
              {streaming ? <span className="pulse" aria-hidden="true" /> : null}
              {statusText}
            </span>
          ) : null}
        </header>
        {partial ? <div className="muted small">…joined while streaming</div> : null}
        {content.length > 0 ? (
          <MessageContent content={content} streaming={streaming} />
        ) : streaming ? (
          <div className="thinking" data-testid="thinking" aria-label="Waiting for the first token">
            <span />
            <span />
            <span />
          </div>
        ) : message.status !== 'error' ? (
          <div className="muted small">(empty reply)</div>
        ) : null}
        {message.status === 'error' && message.error ? (
          <div className="inline-error" data-testid="message-error" data-code={message.error.code}>
            <strong>{describeProblem(message.error).title}.</strong> {message.error.message}
          </div>
        ) : null}
        {message.status === 'cancelled' || message.status === 'interrupted' ? (
          <div className="muted small">{STATUS_HINT[message.status]}</div>
        ) : null}
        {!isUser ? <ValidationView value={message.validation} /> : null}
        {!isUser && !streaming ? <Meta message={message} /> : null}
      </div>
    </article>
  );
}

import { useMemo, useState } from 'react';
import { isLocalId } from '../lib/chat-state.js';
import type { BranchFields, Message } from '../lib/contract.js';
import { formatMs, formatNumber } from '../lib/format.js';
import { blockIndexOfPath, fenceStartLines } from '../lib/markdown.js';
import { describeProblem } from '../lib/problems.js';
import { placeFindings, readValidation, type PlacedFinding } from '../lib/validation.js';
import { CopyButton } from './CopyButton.js';
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

export interface MessageActions {
  /** A failed reply: try again. */
  onRetry?: (() => void) | undefined;
  onRegenerate?: (() => void) | undefined;
  /** A user message: put it back in the box to edit and resend as a new branch. */
  onEdit?: (() => void) | undefined;
  onSwitchVersion?: ((messageId: string) => void) | undefined;
}

const NO_FINDINGS: PlacedFinding[] = [];

export function MessageItem({
  message,
  content,
  partial,
  errorShownAbove = false,
  found = false,
  actions = {},
}: {
  message: Message & BranchFields;
  content: string;
  partial: boolean;
  /** The same error is in the notice above the composer: show it once. */
  errorShownAbove?: boolean;
  /** The message a search result opened the conversation at. */
  found?: boolean;
  actions?: MessageActions;
}) {
  const streaming = message.status === 'streaming';
  const validation = useMemo(() => readValidation(message.validation), [message.validation]);
  const findings = useMemo(
    () => (validation.kind === 'report' ? placeFindings(validation.findings, fenceStartLines(content), blockIndexOfPath) : NO_FINDINGS),
    [validation, content],
  );
  const siblings = message.siblings;
  const statusText = STATUS_TEXT[message.status];
  const isUser = message.role === 'user';
  return (
    <article
      className={`message message-${message.role} status-${message.status}${found ? ' found' : ''}`}
      data-testid="message"
      data-role={message.role}
      data-status={message.status}
      data-id={message.id}
      {...(found ? { 'data-found': 'true', 'aria-current': 'true' as const } : {})}
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
          isUser ? (
            <UserText content={content} />
          ) : (
            <MessageContent content={content} streaming={streaming} findings={findings} />
          )
        ) : streaming ? (
          <div className="thinking" data-testid="thinking" role="status" aria-label="Waiting for the first token">
            <span />
            <span />
            <span />
          </div>
        ) : message.status !== 'error' ? (
          <div className="muted small">(empty reply)</div>
        ) : null}
        {message.status === 'error' && message.error && !errorShownAbove ? (
          <div className="inline-error" data-testid="message-error" data-code={message.error.code}>
            <strong>{describeProblem(message.error).title}.</strong> {message.error.message}
          </div>
        ) : null}
        {message.status === 'cancelled' || message.status === 'interrupted' ? (
          <div className="muted small">{STATUS_HINT[message.status]}</div>
        ) : null}
        {!isUser ? <ValidationView view={validation} findings={findings} /> : null}
        {!isUser && !streaming ? <Meta message={message} /> : null}
        {!streaming && !isLocalId(message.id) ? (
          <div className="message-actions">
            {siblings && siblings.count > 1 && actions.onSwitchVersion ? (
              <VersionSwitcher siblings={siblings} onSwitch={actions.onSwitchVersion} />
            ) : null}
            {content.length > 0 ? <CopyButton text={content} label={isUser ? 'Copy your message' : 'Copy the reply'} testId="copy-message" /> : null}
            {isUser && actions.onEdit ? (
              <button type="button" className="action-button" data-testid="edit-message" onClick={actions.onEdit}>
                Edit
              </button>
            ) : null}
            {!isUser && message.status === 'error' && actions.onRetry ? (
              <button type="button" className="action-button retry" data-testid="retry" onClick={actions.onRetry}>
                Retry
              </button>
            ) : !isUser && actions.onRegenerate ? (
              <button type="button" className="action-button" data-testid="regenerate" onClick={actions.onRegenerate}>
                Regenerate
              </button>
            ) : null}
          </div>
        ) : null}
      </div>
    </article>
  );
}

function VersionSwitcher({ siblings, onSwitch }: { siblings: NonNullable<BranchFields['siblings']>; onSwitch: (id: string) => void }) {
  const { index, count, ids } = siblings;
  const go = (to: number): void => {
    const id = ids[to - 1];
    if (id !== undefined) onSwitch(id);
  };
  return (
    <span className="version-switcher" data-testid="version-switcher" role="group" aria-label="Versions">
      <button type="button" className="icon-button" aria-label="Previous version" disabled={index <= 1} onClick={() => go(index - 1)}>
        ‹
      </button>
      <span data-testid="version-label">
        {index}/{count}
      </span>
      <button type="button" className="icon-button" aria-label="Next version" disabled={index >= count} onClick={() => go(index + 1)}>
        ›
      </button>
    </span>
  );
}

/** Beyond this a sent message shows its start and a button for the rest (a pasted log, a file). */
const LONG_USER_TEXT = 4_000;

function UserText({ content }: { content: string }) {
  const [expanded, setExpanded] = useState(false);
  const long = content.length > LONG_USER_TEXT && !expanded;
  return (
    <div className="message-content user-text" data-testid="message-content">
      {long ? `${content.slice(0, LONG_USER_TEXT)}…` : content}
      {long ? (
        <div>
          <button type="button" className="action-button" data-testid="expand-message" onClick={() => setExpanded(true)}>
            Show all {content.length.toLocaleString('en-US')} characters
          </button>
        </div>
      ) : null}
    </div>
  );
}

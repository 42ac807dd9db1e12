import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import type { HostStatus } from '../../preload/api.js';
import { ChatView } from './components/ChatView.js';
import { ConversationList } from './components/ConversationList.js';
import { addTick, MetricsPanel, type MetricsHistory } from './components/MetricsPanel.js';
import { PairingScreen } from './components/PairingScreen.js';
import { SettingsDialog } from './components/SettingsDialog.js';
import { StatusBadge, type Connection } from './components/StatusBadge.js';
import { api, ApiError } from './lib/api.js';
import { desktopBridge } from './lib/bridge.js';
import { chatReducer, initialChatState } from './lib/chat-state.js';
import type { Problem, StatusBody } from './lib/contract.js';
import { describeProblem, isAuthProblem } from './lib/problems.js';
import { ACK_TIMEOUT_MS, ackWithTimeout, createSocket } from './lib/socket.js';

type Gate = { kind: 'checking' } | { kind: 'unauthorized' } | { kind: 'unreachable'; problem: Problem } | { kind: 'ready'; status: StatusBody };

const problemOf = (err: unknown): Problem =>
  err instanceof ApiError ? { code: err.code, message: err.message, details: err.details } : { code: 'internal-error', message: String(err) };

/** The conversation named in the URL (`#/c/<id>`), so a reload reopens it. */
function conversationFromHash(): string | null {
  const m = /^#\/c\/([0-9a-zA-Z-]{1,100})$/.exec(window.location.hash);
  return m?.[1] ?? null;
}

let localSeq = 0;
const localId = (): string => `local-${Date.now().toString(36)}-${++localSeq}`;

export function App() {
  const [gate, setGate] = useState<Gate>({ kind: 'checking' });

  const check = useCallback(() => {
    api.status().then(
      (status) => setGate({ kind: 'ready', status }),
      (err: unknown) => {
        if (err instanceof ApiError && err.unauthorized) setGate({ kind: 'unauthorized' });
        else setGate({ kind: 'unreachable', problem: problemOf(err) });
      },
    );
  }, []);
  useEffect(check, [check]);

  switch (gate.kind) {
    case 'checking':
      return (
        <div className="center-screen" data-testid="app-loading">
          <div className="brand-mark large pulse-slow" aria-hidden="true">♪</div>
        </div>
      );
    case 'unauthorized':
      return <PairingScreen />;
    case 'unreachable':
      return (
        <div className="center-screen" data-testid="server-unreachable">
          <div className="card">
            <h1>{describeProblem(gate.problem).title}</h1>
            <p className="muted">{gate.problem.message}</p>
            <button type="button" className="button primary" onClick={check}>
              Try again
            </button>
          </div>
        </div>
      );
    case 'ready':
      return <Workspace initialStatus={gate.status} onUnauthorized={() => setGate({ kind: 'unauthorized' })} />;
  }
}

function Workspace({ initialStatus, onUnauthorized }: { initialStatus: StatusBody; onUnauthorized: () => void }) {
  const [state, dispatch] = useReducer(chatReducer, initialChatState);
  const [socket] = useState(createSocket);
  const [connection, setConnection] = useState<Connection>('connecting');
  const [status, setStatus] = useState<StatusBody>(initialStatus);
  const [statusDetail, setStatusDetail] = useState<string | undefined>(undefined);
  const [metrics, setMetrics] = useState<MetricsHistory>({ latest: null, ticks: 0, history: [] });
  const [restore, setRestore] = useState<{ text: string; n: number } | null>(null);
  const [showMetrics, setShowMetrics] = useState(true);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [hostStatus, setHostStatus] = useState<HostStatus | null>(null);
  const bridge = desktopBridge();

  const stateRef = useRef(state);
  stateRef.current = state;

  const fail = useCallback(
    (err: unknown, conversationId: string | null = stateRef.current.activeId): void => {
      if (err instanceof ApiError && err.unauthorized) {
        onUnauthorized();
        return;
      }
      dispatch({ type: 'problem', problem: { ...problemOf(err), conversationId } });
    },
    [onUnauthorized],
  );

  const loadList = useCallback(() => {
    api.conversations().then(
      (page) => dispatch({ type: 'conversations-loaded', items: page.items }),
      (err: unknown) => fail(err),
    );
  }, [fail]);

  const open = useCallback(
    (id: string | null) => {
      dispatch({ type: 'open', id });
      if (id === null) return;
      api.conversation(id).then(
        (conversation) => dispatch({ type: 'opened', conversation }),
        (err: unknown) => {
          if (err instanceof ApiError && err.unauthorized) onUnauthorized();
          else dispatch({ type: 'open-failed', id, problem: problemOf(err) });
        },
      );
    },
    [onUnauthorized],
  );

  // The socket: live tokens, conversation changes, status and metrics.
  useEffect(() => {
    socket.on('connect', () => {
      setConnection('connected');
      socket.emit('metrics:subscribe');
      // Rooms do not survive a reconnect: join again and catch up on what was missed.
      const active = stateRef.current.activeId;
      if (active !== null) socket.emit('conversation:join', { conversationId: active });
      loadList();
      api.status().then(setStatus, () => undefined);
    });
    socket.on('disconnect', () => setConnection('reconnecting'));
    socket.on('connect_error', (err) => {
      if (isAuthProblem(err.message)) onUnauthorized();
      else setConnection((c) => (c === 'connected' ? 'reconnecting' : c));
    });
    socket.on('chat:token', (event) => dispatch({ type: 'token', event }));
    socket.on('chat:done', (event) => {
      dispatch({ type: 'done', event });
      // The desktop shell notifies when the window is in the background (and the setting allows).
      const title = stateRef.current.conversations.find((c) => c.id === event.conversationId)?.title ?? '';
      desktopBridge()
        ?.replyFinished({ conversationId: event.conversationId, title })
        .catch(() => undefined);
    });
    socket.on('chat:error', (event) => dispatch({ type: 'error', event }));
    socket.on('conversation:updated', (event) => {
      const known = stateRef.current.conversations.some((c) => c.id === event.conversationId);
      dispatch({ type: 'conversation-updated', event });
      if (!known && event.reason !== 'deleted' && event.title === undefined) loadList();
    });
    socket.on('status:changed', (event) => {
      setStatus((s) => ({ ...s, status: event.status }));
      setStatusDetail(`${event.component}: ${event.detail}`);
      api.status().then(setStatus, () => undefined);
    });
    socket.on('metrics:tick', (snapshot) => setMetrics((h) => addTick(h, snapshot)));
    socket.connect();
    return () => {
      socket.removeAllListeners();
      socket.disconnect();
    };
  }, [socket, loadList, onUnauthorized]);

  // Open the conversation in the URL, and follow manual URL changes.
  useEffect(() => {
    const fromHash = conversationFromHash();
    if (fromHash !== null) open(fromHash);
    const onHash = (): void => {
      const id = conversationFromHash();
      if (id !== stateRef.current.activeId) open(id);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [open]);

  // Keep the URL on the open conversation, and the socket in its room.
  useEffect(() => {
    const id = state.activeId;
    const hash = id === null ? '' : `#/c/${id}`;
    if (window.location.hash !== hash) window.history.replaceState(null, '', hash === '' ? window.location.pathname : hash);
    if (id === null || connection !== 'connected') return;
    socket.emit('conversation:join', { conversationId: id }, (result) => {
      if ('error' in result && result.error.code === 'not-found') {
        dispatch({ type: 'problem', problem: { ...result.error, conversationId: id } });
      }
    });
    return () => {
      socket.emit('conversation:leave', { conversationId: id });
    };
  }, [state.activeId, connection, socket]);

  useEffect(() => bridge?.onStatus(setHostStatus), [bridge]);
  // Application-menu commands from the desktop shell.
  useEffect(
    () =>
      bridge?.onCommand((command) => {
        if (command === 'new-chat') open(null);
        else if (command === 'open-settings') setSettingsOpen(true);
      }),
    [bridge, open],
  );
  const [restarting, setRestarting] = useState(false);
  const restartBackend = (): void => {
    if (!bridge) return;
    setRestarting(true);
    bridge.restartBackend().then(
      () => setRestarting(false),
      () => setRestarting(false),
    );
  };

  const send = (text: string): boolean => {
    if (connection !== 'connected') return false;
    const id = localId();
    const conversationId = stateRef.current.activeId;
    dispatch({ type: 'send', localId: id, text, now: new Date().toISOString() });
    const payload = conversationId === null ? { message: text } : { conversationId, message: text };
    socket.emit(
      'chat:send',
      payload,
      ackWithTimeout(ACK_TIMEOUT_MS, (result) => {
        if ('error' in result) {
          dispatch({ type: 'send-failed', localId: id, problem: result.error });
          setRestore({ text, n: Date.now() });
          if (isAuthProblem(result.error.code)) onUnauthorized();
          return;
        }
        dispatch({ type: 'send-acked', localId: id, conversationId: result.conversationId, messageId: result.messageId, now: new Date().toISOString() });
      }),
    );
    return true;
  };

  const stop = (messageId: string): void => {
    socket.emit('chat:cancel', { messageId }, (result) => {
      if ('error' in result) dispatch({ type: 'problem', problem: { ...result.error, conversationId: stateRef.current.activeId } });
    });
  };

  const rename = async (id: string, title: string): Promise<boolean> => {
    try {
      dispatch({ type: 'conversation-saved', conversation: await api.rename(id, title) });
      return true;
    } catch (err) {
      fail(err, id);
      return false;
    }
  };

  const remove = async (id: string): Promise<boolean> => {
    try {
      await api.remove(id);
      dispatch({ type: 'conversation-updated', event: { conversationId: id, reason: 'deleted', updatedAt: new Date().toISOString() } });
      return true;
    } catch (err) {
      fail(err, id);
      return false;
    }
  };

  return (
    <div className={`app${showMetrics ? '' : ' metrics-hidden'}`} data-testid="app-root">
      <nav className="sidebar" aria-label="Conversations">
        <div className="sidebar-top">
          <div className="brand">
            <span className="brand-mark" aria-hidden="true">♪</span>
            <span className="brand-name">Orchestra</span>
          </div>
          <StatusBadge status={status.status} connection={connection} detail={statusDetail} />
        </div>
        <button type="button" className="button primary new-chat" data-testid="new-chat" onClick={() => open(null)}>
          + New chat
        </button>
        <div className="sidebar-list">
          <ConversationList
            conversations={state.conversations}
            loaded={state.conversationsLoaded}
            activeId={state.activeId}
            onOpen={open}
            onRename={rename}
            onDelete={remove}
          />
        </div>
        <div className="sidebar-bottom">
          <button type="button" className="link-button" data-testid="toggle-metrics" onClick={() => setShowMetrics((v) => !v)}>
            {showMetrics ? 'Hide metrics' : 'Show metrics'}
          </button>
          {bridge ? (
            <button type="button" className="link-button" data-testid="settings-button" onClick={() => setSettingsOpen(true)}>
              Settings
            </button>
          ) : null}
        </div>
      </nav>
      <main className="main">
        {hostStatus && hostStatus.state !== 'running' ? (
          <div
            className={`host-banner tone-${hostStatus.state === 'failed' ? 'down' : 'degraded'}`}
            data-testid="host-status-banner"
            data-state={hostStatus.state}
            role="alert"
          >
            <span>{hostStatus.message}</span>
            {hostStatus.crash?.logPath ? (
              <span className="host-banner-log">
                {' '}
                The backend log is <code data-testid="host-log-path">{hostStatus.crash.logPath}</code>.
              </span>
            ) : null}
            {hostStatus.state === 'failed' ? (
              <button type="button" className="button small" data-testid="host-restart" disabled={restarting} onClick={restartBackend}>
                {restarting ? 'Restarting…' : 'Restart'}
              </button>
            ) : null}
          </div>
        ) : null}
        <ChatView
          state={state}
          connected={connection === 'connected'}
          onSend={send}
          onStop={stop}
          onDismissProblem={() => dispatch({ type: 'problem', problem: null })}
          onOpenSettings={bridge ? () => setSettingsOpen(true) : undefined}
          restore={restore}
        />
      </main>
      {showMetrics ? <MetricsPanel metrics={metrics} status={status} /> : null}
      {settingsOpen && bridge ? <SettingsDialog bridge={bridge} onClose={() => setSettingsOpen(false)} /> : null}
    </div>
  );
}

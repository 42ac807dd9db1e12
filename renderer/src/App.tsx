import { useCallback, useEffect, useReducer, useRef, useState, type DragEvent } from 'react';
import type { HostStatus } from '../../preload/api.js';
import { ChatView } from './components/ChatView.js';
import type { ComposerEditing } from './components/Composer.js';
import { ConversationList } from './components/ConversationList.js';
import { addTick, MetricsPanel, type MetricsHistory } from './components/MetricsPanel.js';
import { NoProviderHelp } from './components/NoProviderHelp.js';
import { PairingScreen } from './components/PairingScreen.js';
import { SearchBox } from './components/SearchBox.js';
import { SettingsDialog } from './components/SettingsDialog.js';
import { ShortcutsDialog } from './components/ShortcutsDialog.js';
import { StatusBadge, type Connection, type ProviderState } from './components/StatusBadge.js';
import { CloseIcon } from './components/Icons.js';
import { api, ApiError } from './lib/api.js';
import { desktopBridge } from './lib/bridge.js';
import { chatReducer, initialChatState, isLocalId, parentOf, stalledStream, streamingMessageId } from './lib/chat-state.js';
import type { BranchFields, ConversationOptions, JoinAck, Message, Problem, StatusBody, TokenEvent } from './lib/contract.js';
import { MAX_MESSAGE_CHARS, STREAM_RENDER_MS, STREAM_REPAIR_MS } from './lib/limits.js';
import { describeProblem, isAuthProblem } from './lib/problems.js';
import { shortcutOf } from './lib/shortcuts.js';
import { importSummary } from './lib/transfer.js';
import { ACK_TIMEOUT_MS, ackWithTimeout, createSocket } from './lib/socket.js';
import { applyTheme, nextTheme, storedTheme, type ThemeChoice } from './lib/theme.js';

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

function useMediaQuery(query: string): boolean {
  const [matches, setMatches] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const list = window.matchMedia(query);
    const on = (): void => setMatches(list.matches);
    list.addEventListener('change', on);
    on();
    return () => list.removeEventListener('change', on);
  }, [query]);
  return matches;
}

type MessageCreatedEvent = { conversationId: string; message: Message };
/** Events of the contract's second part, not yet in the typed event map. */
type ExtraEvents = { on(event: 'message:created', listener: (e: MessageCreatedEvent) => void): void };

const isTyping = (target: EventTarget | null): boolean => {
  const el = target as HTMLElement | null;
  return el !== null && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable === true);
};

function Workspace({ initialStatus, onUnauthorized }: { initialStatus: StatusBody; onUnauthorized: () => void }) {
  const [state, dispatch] = useReducer(chatReducer, initialChatState);
  const [socket] = useState(createSocket);
  const [connection, setConnection] = useState<Connection>('connecting');
  const [status, setStatus] = useState<StatusBody>(initialStatus);
  const [statusDetail, setStatusDetail] = useState<string | undefined>(undefined);
  const [metrics, setMetrics] = useState<MetricsHistory>({ latest: null, ticks: 0, history: [] });
  const [restore, setRestore] = useState<{ text: string; n: number } | null>(null);
  const wide = useMediaQuery('(min-width: 1100px)');
  const narrow = useMediaQuery('(max-width: 767px)');
  // Beside the chat only when there is room for it; below that it is an overlay (a sheet on phones).
  const [showMetrics, setShowMetrics] = useState(() => window.matchMedia('(min-width: 1100px)').matches);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [shortcutsOpen, setShortcutsOpen] = useState(false);
  const [theme, setTheme] = useState<ThemeChoice>(storedTheme);
  const [models, setModels] = useState<string[]>([]);
  const [provider, setProvider] = useState<{ state: ProviderState; problem: Problem | null }>({ state: 'unknown', problem: null });
  const [bannerDismissed, setBannerDismissed] = useState(false);
  const [editing, setEditing] = useState<(ComposerEditing & { parentId: string | null | undefined }) | null>(null);
  const [pendingModel, setPendingModel] = useState('');
  const [dragging, setDragging] = useState(false);
  const [importNote, setImportNote] = useState<{ tone: 'ok' | 'error'; text: string } | null>(null);
  const [hostStatus, setHostStatus] = useState<HostStatus | null>(null);
  /** A search result opened this conversation at this message (`branchTried`: its branch was made active). */
  const [found, setFound] = useState<{ conversationId: string; messageId: string; branchTried: boolean } | null>(null);
  const bridge = desktopBridge();
  const searchRef = useRef<HTMLInputElement>(null);
  const composerRef = useRef<HTMLTextAreaElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);

  const stateRef = useRef(state);
  stateRef.current = state;

  useEffect(() => {
    if (wide) setShowMetrics(true);
    else setShowMetrics(false);
  }, [wide]);
  useEffect(() => {
    if (!narrow) setSidebarOpen(false);
  }, [narrow]);

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
      setEditing(null);
      setFound(null);
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

  /** Reloads the open conversation (after a branch changed, to learn its siblings). */
  const reloadActive = useCallback(() => {
    const id = stateRef.current.activeId;
    if (id === null) return;
    api.conversation(id).then(
      (conversation) => dispatch({ type: 'opened', conversation }),
      () => undefined,
    );
  }, []);

  const checkProvider = useCallback(() => {
    api.models().then(
      (list) => {
        setModels(list.models);
        setProvider({ state: 'up', problem: null });
      },
      (err: unknown) => {
        if (!(err instanceof ApiError)) return;
        if (err.code === 'no-provider') setProvider({ state: 'none', problem: problemOf(err) });
        else if (err.code.startsWith('provider')) setProvider({ state: 'down', problem: problemOf(err) });
      },
    );
  }, []);
  useEffect(checkProvider, [checkProvider]);

  // The socket: live tokens, conversation changes, status and metrics.
  useEffect(() => {
    socket.on('connect', () => {
      setConnection('connected');
      socket.emit('metrics:subscribe');
      loadList();
      api.status().then(setStatus, () => undefined);
      // Rooms do not survive a reconnect: the effect that joins the open conversation runs again
      // (connection changes), and its ack carries the replies still streaming.
      const active = stateRef.current.activeId;
      if (active !== null) reloadActive();
    });
    socket.on('disconnect', () => {
      setConnection('reconnecting');
      dispatch({ type: 'disconnected' });
    });
    socket.on('connect_error', (err) => {
      if (isAuthProblem(err.message)) onUnauthorized();
      else setConnection((c) => (c === 'connected' ? 'reconnecting' : c));
    });
    // Tokens are applied in batches, not once each: a batch re-renders the window once. The
    // reply's text is drawn at most every STREAM_RENDER_MS anyway (MessageContent), so batching
    // at that pace costs no visible latency and saves three window renders in four.
    let pending: TokenEvent[] = [];
    let frame: ReturnType<typeof setTimeout> | null = null;
    const flush = (): void => {
      if (frame !== null) clearTimeout(frame);
      frame = null;
      if (pending.length === 0) return;
      const events = pending;
      pending = [];
      dispatch({ type: 'tokens', events });
    };
    socket.on('chat:token', (event) => {
      pending.push(event);
      frame ??= setTimeout(flush, STREAM_RENDER_MS);
    });
    socket.on('chat:done', (event) => {
      flush();
      dispatch({ type: 'done', event });
      if (event.message.status === 'complete') setProvider((p) => (p.state === 'up' ? p : { state: 'up', problem: null }));
      // The desktop shell notifies when the window is in the background (and the setting allows).
      const title = stateRef.current.conversations.find((c) => c.id === event.conversationId)?.title ?? '';
      desktopBridge()
        ?.replyFinished({ conversationId: event.conversationId, title })
        .catch(() => undefined);
    });
    socket.on('chat:error', (event) => {
      flush();
      dispatch({ type: 'error', event });
    });
    (socket as unknown as ExtraEvents).on('message:created', (event) => dispatch({ type: 'message-created', conversationId: event.conversationId, message: event.message }));
    socket.on('conversation:updated', (event) => {
      const known = stateRef.current.conversations.some((c) => c.id === event.conversationId);
      dispatch({ type: 'conversation-updated', event });
      if (!known && event.reason !== 'deleted' && event.title === undefined) loadList();
    });
    socket.on('status:changed', (event) => {
      setStatus((s) => ({ ...s, status: event.status }));
      setStatusDetail(`${event.component}: ${event.detail}`);
      api.status().then(setStatus, () => undefined);
      if (event.component.startsWith('provider')) checkProvider();
    });
    socket.on('metrics:tick', (snapshot) => setMetrics((h) => addTick(h, snapshot)));
    socket.connect();
    return () => {
      if (frame !== null) clearTimeout(frame);
      socket.removeAllListeners();
      socket.disconnect();
    };
  }, [socket, loadList, onUnauthorized, reloadActive, checkProvider]);

  // When a reply of the open conversation ends, the stored turn replaces what this window
  // assembled while it streamed: a new conversation's first message was sent before the window
  // was in its room, so it is still the local copy, without the ids and branch positions that
  // edit and versions need. Counted by the reducer, so an end that arrives right after the send's
  // ack (before a render) is not missed.
  useEffect(() => {
    if ((state.turnsEnded ?? 0) > 0) reloadActive();
  }, [state.turnsEnded, reloadActive]);

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

  /** Puts the socket in a conversation's room; the ack's snapshots continue its replies in progress. */
  const join = useCallback(
    (id: string) => {
      socket.emit('conversation:join', { conversationId: id }, (result) => {
        if ('error' in result) {
          if (result.error.code === 'not-found') dispatch({ type: 'problem', problem: { ...result.error, conversationId: id } });
          return;
        }
        const ack: JoinAck = result;
        dispatch({ type: 'resume', conversationId: id, streaming: ack.streaming });
      });
    },
    [socket],
  );

  // Keep the URL on the open conversation, and the socket in its room. The join ack names the
  // replies still being generated, with their text so far: the reply continues where it is.
  useEffect(() => {
    const id = state.activeId;
    const hash = id === null ? '' : `#/c/${id}`;
    if (window.location.hash !== hash) window.history.replaceState(null, '', hash === '' ? window.location.pathname : hash);
    if (id === null || connection !== 'connected') return;
    join(id);
    return () => {
      socket.emit('conversation:leave', { conversationId: id });
    };
  }, [state.activeId, connection, socket, join]);

  // A reply whose live tokens wait behind a missing one (or for a join ack that never came) would
  // show nothing more until it ends. Joining again is harmless (the socket is already in the
  // room) and its ack's snapshot fills the gap; asked again while nothing moves.
  const stalled = stalledStream(state);
  useEffect(() => {
    const id = state.activeId;
    if (stalled === null || id === null || connection !== 'connected') return;
    const timer = setInterval(() => join(id), STREAM_REPAIR_MS);
    return () => clearInterval(timer);
  }, [stalled, state.activeId, connection, join]);

  // A search hit on another branch than the one shown: make its branch the active one (the
  // server picks the leaf under it), then show it.
  useEffect(() => {
    if (found === null || found.branchTried || state.loading || state.activeId !== found.conversationId) return;
    if (state.messages.some((m) => m.id === found.messageId)) return;
    setFound({ ...found, branchTried: true });
    api.update(found.conversationId, { activeLeafId: found.messageId }).then(
      () => reloadActive(),
      (err: unknown) => fail(err, found.conversationId),
    );
  }, [found, state.loading, state.activeId, state.messages, reloadActive, fail]);
  const foundMessageId = found !== null && found.conversationId === state.activeId && !state.loading ? found.messageId : null;

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

  const active = state.conversations.find((c) => c.id === state.activeId) as (ConversationOptions & { id: string }) | undefined;
  const options: ConversationOptions = { model: active?.model ?? (pendingModel === '' ? null : pendingModel), systemPrompt: active?.systemPrompt ?? null };

  const send = (text: string): boolean => {
    if (connection !== 'connected') return false;
    if (text.length > MAX_MESSAGE_CHARS) {
      dispatch({
        type: 'problem',
        problem: { code: 'payload-too-large', message: `the message has ${text.length} characters; at most ${MAX_MESSAGE_CHARS} are accepted`, conversationId: state.activeId },
      });
      return false;
    }
    const id = localId();
    const conversationId = stateRef.current.activeId;
    const branch = editing !== null && editing.parentId !== undefined ? editing : null;
    if (branch !== null) dispatch({ type: 'branch-from', messageId: branch.messageId });
    setEditing(null);
    setFound(null);
    dispatch({ type: 'send', localId: id, text, now: new Date().toISOString() });
    const payload: { conversationId?: string; message: string; model?: string; parentId?: string | null } = { message: text };
    if (conversationId !== null) payload.conversationId = conversationId;
    if (options.model) payload.model = options.model;
    if (branch !== null) payload.parentId = branch.parentId ?? null;
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

  const previousUserText = (messageId: string): string | undefined => {
    const list = stateRef.current.messages;
    const at = list.findIndex((m) => m.id === messageId);
    for (let i = at - 1; i >= 0; i--) if (list[i]?.role === 'user') return list[i]?.content;
    return undefined;
  };

  const regenerate = (message: Message, isRetry: boolean): void => {
    const text = previousUserText(message.id);
    dispatch({ type: 'branch-from', messageId: message.id });
    api.regenerate(message.id).then(
      () => reloadActive(),
      (err: unknown) => {
        // A server without regenerate (404): a retry sends the question again instead.
        if (isRetry && err instanceof ApiError && err.status === 404 && text !== undefined) {
          reloadActive();
          send(text);
          return;
        }
        reloadActive();
        fail(err);
      },
    );
  };

  const switchVersion = (messageId: string): void => {
    const id = stateRef.current.activeId;
    if (id === null) return;
    api.update(id, { activeLeafId: messageId }).then(
      () => reloadActive(),
      (err: unknown) => fail(err, id),
    );
  };

  const startEdit = (message: Message & BranchFields): void => {
    setEditing({ messageId: message.id, text: message.content, parentId: parentOf(stateRef.current.messages, message) });
  };

  const editLast = (): void => {
    const last = [...stateRef.current.messages].reverse().find((m) => m.role === 'user' && !isLocalId(m.id));
    if (last !== undefined) startEdit(last);
  };

  const chooseModel = (model: string): void => {
    const id = stateRef.current.activeId;
    if (id === null) {
      setPendingModel(model);
      return;
    }
    api.update(id, { model: model === '' ? null : model }).then(
      (conversation) => dispatch({ type: 'conversation-saved', conversation }),
      (err: unknown) => fail(err, id),
    );
  };

  const saveSystemPrompt = async (prompt: string): Promise<boolean> => {
    const id = stateRef.current.activeId;
    if (id === null) return false;
    try {
      dispatch({ type: 'conversation-saved', conversation: await api.update(id, { systemPrompt: prompt.trim() === '' ? null : prompt }) });
      return true;
    } catch (err) {
      fail(err, id);
      return false;
    }
  };

  // Stable callbacks: the conversation list is memoized, so a batch of tokens does not redraw it.
  const rename = useCallback(
    async (id: string, title: string): Promise<boolean> => {
      try {
        dispatch({ type: 'conversation-saved', conversation: await api.rename(id, title) });
        return true;
      } catch (err) {
        fail(err, id);
        return false;
      }
    },
    [fail],
  );

  const remove = useCallback(
    async (id: string): Promise<boolean> => {
      try {
        await api.remove(id);
        dispatch({ type: 'conversation-updated', event: { conversationId: id, reason: 'deleted', updatedAt: new Date().toISOString() } });
        return true;
      } catch (err) {
        fail(err, id);
        return false;
      }
    },
    [fail],
  );

  const importFile = async (file: File): Promise<void> => {
    let body: unknown;
    try {
      body = JSON.parse(await file.text()) as unknown;
    } catch {
      setImportNote({ tone: 'error', text: `${file.name} is not JSON: choose an Orchestra JSON export or ChatGPT's conversations.json.` });
      return;
    }
    try {
      const known = new Set(stateRef.current.conversations.map((c) => c.id));
      const { imported } = await api.importConversations(body);
      setImportNote({ tone: 'ok', text: importSummary(imported, known, file.name) });
      loadList();
      if (imported[0] !== undefined) open(imported[0]);
    } catch (err) {
      setImportNote({ tone: 'error', text: `Import failed: ${err instanceof Error ? err.message : String(err)}` });
    }
  };

  const onDrop = (e: DragEvent): void => {
    e.preventDefault();
    setDragging(false);
    const file = e.dataTransfer.files[0];
    if (file !== undefined) void importFile(file);
  };

  // Keyboard shortcuts for the whole window (the list is on `?`).
  const keyState = useRef({ shortcutsOpen, settingsOpen, sidebarOpen, narrow, showMetrics, wide });
  keyState.current = { shortcutsOpen, settingsOpen, sidebarOpen, narrow, showMetrics, wide };
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const action = shortcutOf(e, isTyping(e.target));
      if (action === null) return;
      const k = keyState.current;
      switch (action) {
        case 'stop': {
          if (k.shortcutsOpen) setShortcutsOpen(false);
          else if (k.settingsOpen) setSettingsOpen(false);
          else if (k.sidebarOpen) setSidebarOpen(false);
          else {
            const streaming = streamingMessageId(stateRef.current);
            if (streaming !== null) stop(streaming);
            else if (!k.wide && k.showMetrics) setShowMetrics(false);
            else return;
          }
          e.preventDefault();
          return;
        }
        case 'search':
          e.preventDefault();
          if (k.narrow) setSidebarOpen(true);
          requestAnimationFrame(() => searchRef.current?.focus());
          return;
        case 'new-chat':
          e.preventDefault();
          open(null);
          setSidebarOpen(false);
          requestAnimationFrame(() => composerRef.current?.focus());
          return;
        case 'help':
          e.preventDefault();
          setShortcutsOpen(true);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open]);

  const hideMetrics = useCallback(() => setShowMetrics(false), []);

  const openFromList = useCallback(
    (id: string | null): void => {
      open(id);
      setSidebarOpen(false);
    },
    [open],
  );

  const showBanner = (provider.state === 'none' || provider.state === 'down') && !bannerDismissed && state.problem?.code !== 'no-provider';
  const banner =
    showBanner && provider.problem ? (
      <div className="provider-banner" data-testid="no-provider-banner">
        <NoProviderHelp problem={provider.problem} onOpenSettings={() => setSettingsOpen(true)} testId="no-provider-banner-help" />
        <button type="button" className="icon-button dismiss" aria-label="Dismiss the provider notice" onClick={() => setBannerDismissed(true)}>
          <CloseIcon />
        </button>
      </div>
    ) : null;

  const classes = ['app', showMetrics ? 'metrics-shown' : 'metrics-hidden', sidebarOpen ? 'sidebar-open' : '', dragging ? 'dragging' : ''].filter(Boolean).join(' ');

  return (
    <div
      className={classes}
      data-testid="app-root"
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes('Files')) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      {sidebarOpen ? <div className="drawer-backdrop" aria-hidden="true" onClick={() => setSidebarOpen(false)} /> : null}
      <nav className="sidebar" aria-label="Conversations" data-testid="sidebar" {...(narrow && !sidebarOpen ? { inert: true } : {})}>
        <div className="sidebar-top">
          <div className="brand">
            <span className="brand-mark" aria-hidden="true">♪</span>
            <span className="brand-name">Orchestra</span>
          </div>
          <StatusBadge status={status.status} connection={connection} detail={statusDetail} provider={provider.state} />
        </div>
        <button type="button" className="button primary new-chat" data-testid="new-chat" onClick={() => openFromList(null)}>
          + New chat
        </button>
        <SearchBox
          ref={searchRef}
          onOpen={(conversationId, messageId) => {
            openFromList(conversationId);
            if (messageId !== null) setFound({ conversationId, messageId, branchTried: false });
          }}
        />
        <div className="sidebar-list">
          <ConversationList
            conversations={state.conversations}
            loaded={state.conversationsLoaded}
            activeId={state.activeId}
            onOpen={openFromList}
            onRename={rename}
            onDelete={remove}
          />
        </div>
        {importNote ? (
          <p className={`notice small ${importNote.tone === 'ok' ? 'notice-ok' : 'notice-error'} import-note`} data-testid="import-status" role="status">
            {importNote.text}
          </p>
        ) : null}
        <div className="sidebar-bottom">
          <button
            type="button"
            className="link-button"
            data-testid="toggle-metrics"
            aria-pressed={showMetrics}
            onClick={() => {
              setShowMetrics((v) => !v);
              if (narrow) setSidebarOpen(false);
            }}
          >
            {showMetrics ? 'Hide metrics' : 'Show metrics'}
          </button>
          <button type="button" className="link-button" data-testid="settings-button" onClick={() => setSettingsOpen(true)}>
            Settings
          </button>
          <button type="button" className="link-button" data-testid="import-button" onClick={() => fileRef.current?.click()}>
            Import
          </button>
          <input
            ref={fileRef}
            type="file"
            accept=".json,application/json"
            className="sr-only"
            data-testid="import-input"
            aria-label="Import conversations from a file"
            tabIndex={-1}
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = '';
              if (file !== undefined) void importFile(file);
            }}
          />
          <button
            type="button"
            className="link-button"
            data-testid="theme-toggle"
            aria-label={`Colour theme: ${theme}. Switch to ${nextTheme(theme)}`}
            onClick={() => {
              const next = nextTheme(theme);
              applyTheme(next);
              setTheme(next);
            }}
          >
            Theme: {theme}
          </button>
          <button type="button" className="link-button" data-testid="shortcuts-button" onClick={() => setShortcutsOpen(true)} aria-label="Keyboard shortcuts">
            ?
          </button>
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
          onOpenSettings={() => setSettingsOpen(true)}
          restore={restore}
          onToggleSidebar={() => setSidebarOpen((v) => !v)}
          sidebarOpen={sidebarOpen}
          models={models}
          options={options}
          onModel={chooseModel}
          onSystemPrompt={saveSystemPrompt}
          onRetry={(m) => regenerate(m, true)}
          onRegenerate={(m) => regenerate(m, false)}
          onEdit={startEdit}
          onSwitchVersion={switchVersion}
          editing={editing}
          onCancelEdit={() => setEditing(null)}
          onEditLast={editLast}
          composerRef={composerRef}
          banner={banner}
          foundMessageId={foundMessageId}
        />
      </main>
      {showMetrics ? <MetricsPanel metrics={metrics} status={status} onClose={wide ? undefined : hideMetrics} /> : null}
      {dragging ? (
        <div className="drop-overlay" data-testid="drop-overlay" aria-hidden="true">
          Drop an Orchestra or ChatGPT export to import it
        </div>
      ) : null}
      {settingsOpen ? <SettingsDialog version={bridge?.version} bridge={bridge} onClose={() => setSettingsOpen(false)} /> : null}
      {shortcutsOpen ? <ShortcutsDialog onClose={() => setShortcutsOpen(false)} /> : null}
    </div>
  );
}

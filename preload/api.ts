/**
 * The one bridge between the Electron main process and the renderer, as types. The preload
 * builds `window.orchestra` and checks it with `satisfies OrchestraBridge`; the renderer imports
 * these types (type-only) and main implements the IPC side. A change here breaks all three builds.
 *
 * Only `IPC_CHANNELS` is a value, and only main imports it: a sandboxed preload cannot require a
 * sibling file, so it spells the channel names itself, checked against `IpcChannel`.
 */

/** Settings the desktop keeps in electron-store and pushes to the backend. Empty string = unset. */
export interface DesktopSettings {
  /** OpenAI-compatible base URL (LLM_BASE_URL); empty probes local Ollama and LM Studio. */
  llmBaseUrl: string;
  /** Default model (LLM_MODEL); empty uses the provider's first model. */
  llmModel: string;
  /** DATABASE_URL without its password (the password is a secret); empty uses SQLite in userData. */
  databaseUrl: string;
  /** REDIS_URL; empty uses the in-memory cache. */
  redisUrl: string;
  /** LOG_LEVEL of the backend. */
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /** A native notification when a reply finishes while the window is not focused. */
  notifyOnReply: boolean;
  /** Update feed (electron-updater's generic provider: a folder serving latest*.yml); empty: no update checks. */
  updateUrl: string;
}

/** Secrets are write-only from the renderer: it learns whether one is set, never its value. */
export type SecretName = 'llmApiKey' | 'databasePassword';

export interface SettingsView {
  settings: DesktopSettings;
  secrets: Record<SecretName, { set: boolean }>;
  /** False when the OS offers no keychain; secrets are then refused rather than stored in clear. */
  encryptionAvailable: boolean;
}

export interface SettingsUpdate {
  settings?: Partial<DesktopSettings>;
  /** A string sets the secret, null clears it, absent leaves it alone. */
  secrets?: Partial<Record<SecretName, string | null>>;
}

export type SaveSettingsResult =
  | { ok: true; applied: 'live' | 'restarted' | 'saved'; message: string; view: SettingsView }
  | { ok: false; message: string; field?: string };

/** What the backend host is doing, pushed to the window so it can explain a restart. */
export interface HostStatus {
  state: 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';
  message: string;
  at: string;
  /** Set when the backend crashed: the window explains it and offers Restart when it gave up. */
  crash?: {
    exitCode: number;
    /** Crashes within the last minute, this one included. */
    crashesInWindow: number;
    /** True while the host restarts it by itself; false once it stopped trying. */
    restarting: boolean;
    /** The backend's log file. */
    logPath?: string;
  };
}

/** What the application menu asks the page to do. */
export type AppCommand = 'open-settings' | 'new-chat';

/** The page tells main that a reply finished, so main can notify when the window is in the background. */
export interface FinishedReply {
  conversationId: string;
  /** The conversation's title, shown in the notification. */
  title: string;
}

export interface OrchestraBridge {
  /** The desktop app's version. */
  readonly version: string;
  readonly platform: string;
  getSettings(): Promise<SettingsView>;
  saveSettings(update: SettingsUpdate): Promise<SaveSettingsResult>;
  /** Calls `listener` on every host status change; returns the unsubscribe function. */
  onStatus(listener: (status: HostStatus) => void): () => void;
  /** Calls `listener` for each application-menu command meant for the page; returns the unsubscribe function. */
  onCommand(listener: (command: AppCommand) => void): () => void;
  /** Called on every `chat:done` the page receives; main decides whether to notify. */
  replyFinished(reply: FinishedReply): Promise<void>;
  /** Starts the backend again after it stopped for good (the Restart button). */
  restartBackend(): Promise<void>;
}

export const IPC_CHANNELS = {
  getSettings: 'orchestra:settings:get',
  saveSettings: 'orchestra:settings:save',
  hostStatus: 'orchestra:host-status',
  command: 'orchestra:command',
  replyFinished: 'orchestra:reply-finished',
  restartBackend: 'orchestra:backend:restart',
} as const;

export type IpcChannel = (typeof IPC_CHANNELS)[keyof typeof IPC_CHANNELS];

/** The additional argument main passes to the renderer process; the preload reads the version from it. */
export const VERSION_ARG_PREFIX = '--orchestra-version=';

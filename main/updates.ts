/**
 * Update checks. The updater itself (electron-updater's autoUpdater, main/electron-updater.ts)
 * sits behind `UpdaterLike`, so this logic is tested without Electron against a fake that reads
 * the same feed files over HTTP.
 *
 * The feed is electron-updater's "generic" provider: a folder on any web server holding the
 * installers and the `latest*.yml` files that `npm run dist` writes next to them. Its URL is a
 * setting; empty means no update checks at all (nothing is contacted).
 */
export interface UpdaterLike {
  /** Points the updater at a generic feed (the folder URL). */
  setFeed(url: string): void;
  /** Asks the feed; rejects when the feed cannot be read. A found update downloads in the background. */
  check(): Promise<{ available: boolean; version: string }>;
}

export type UpdateState = 'disabled' | 'checking' | 'available' | 'not-available' | 'error';

export interface UpdateStatus {
  state: UpdateState;
  message: string;
  /** The feed's version, when one was read. */
  version?: string;
  feedUrl?: string;
}

export interface UpdateServiceOptions {
  updater: UpdaterLike;
  /** Read at every check, so a changed setting applies to the next one. */
  feedUrl: () => string;
  currentVersion: string;
  onStatus?: (status: UpdateStatus) => void;
  log?: (line: string) => void;
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]?.trim() ?? 'unknown error';

export class UpdateService {
  private configuredUrl: string | undefined;
  private running: Promise<UpdateStatus> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private latest: UpdateStatus;

  constructor(private readonly o: UpdateServiceOptions) {
    this.latest = this.disabledStatus();
  }

  get status(): UpdateStatus {
    return this.latest;
  }

  private disabledStatus(): UpdateStatus {
    return { state: 'disabled', message: 'Update checks are off: no update URL is set in Settings.' };
  }

  private report(status: UpdateStatus): UpdateStatus {
    this.latest = status;
    this.o.log?.(`updates ${status.state}: ${status.message}`);
    this.o.onStatus?.(status);
    return status;
  }

  /** One check at a time: a second call while one runs gets the same answer. */
  check(): Promise<UpdateStatus> {
    this.running ??= this.runCheck().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runCheck(): Promise<UpdateStatus> {
    const feedUrl = this.o.feedUrl().trim();
    if (feedUrl === '') return this.report(this.disabledStatus());
    let url: URL;
    try {
      url = new URL(feedUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not an http(s) URL');
    } catch (err) {
      return this.report({ state: 'error', feedUrl, message: `The update URL ${feedUrl} is not usable (${firstLine(err)}); fix it in Settings.` });
    }
    if (this.configuredUrl !== feedUrl) {
      this.o.updater.setFeed(feedUrl);
      this.configuredUrl = feedUrl;
    }
    this.report({ state: 'checking', feedUrl, message: `Checking ${feedUrl} for updates…` });
    try {
      const { available, version } = await this.o.updater.check();
      if (available) {
        return this.report({
          state: 'available',
          feedUrl,
          version,
          message: `Orchestra ${version} is available (this is ${this.o.currentVersion}); it downloads in the background and installs when you quit.`,
        });
      }
      return this.report({ state: 'not-available', feedUrl, version, message: `Orchestra ${this.o.currentVersion} is up to date.` });
    } catch (err) {
      return this.report({ state: 'error', feedUrl, message: `Could not check for updates at ${feedUrl}: ${firstLine(err)}` });
    }
  }

  /** Checks now and then every `intervalMs`; without a feed URL each check is a no-op. */
  start(intervalMs = 6 * 60 * 60 * 1000): void {
    this.stop();
    void this.check();
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

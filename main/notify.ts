import type { FinishedReply } from '../preload/api.js';

/** What the notifier needs from Electron: whether the window has focus, and a way to show a notification. */
export interface ReplyNotifierDeps {
  /** False when the window is in the background, minimised, hidden or gone. */
  windowFocused(): boolean;
  /** The `notifyOnReply` setting, read at every reply so a change applies at once. */
  enabled(): boolean;
  /** Native notifications may be unsupported (some Linux desktops without a notification daemon). */
  supported(): boolean;
  show(notification: { title: string; body: string; conversationId: string }): void;
  now?: () => number;
  /** At most one notification per conversation within this time: a page cannot flood the desktop. */
  quietMs?: number;
}

export type NotifyDecision = 'shown' | 'focused' | 'disabled' | 'unsupported' | 'repeated';

/**
 * A reply finished in the page (it received `chat:done`). The person is told with a native
 * notification only when they are not looking at the window and have not turned it off.
 */
export class ReplyNotifier {
  private readonly lastShown = new Map<string, number>();

  constructor(private readonly deps: ReplyNotifierDeps) {}

  replyFinished(reply: FinishedReply): NotifyDecision {
    if (!this.deps.enabled()) return 'disabled';
    if (this.deps.windowFocused()) return 'focused';
    if (!this.deps.supported()) return 'unsupported';
    const now = (this.deps.now ?? Date.now)();
    const last = this.lastShown.get(reply.conversationId);
    if (last !== undefined && now - last < (this.deps.quietMs ?? 2_000)) return 'repeated';
    this.lastShown.set(reply.conversationId, now);
    if (this.lastShown.size > 100) this.lastShown.delete(this.lastShown.keys().next().value as string);
    const title = reply.title.trim();
    this.deps.show({
      title: 'Reply ready',
      body: title === '' ? 'Orchestra finished a reply.' : `Orchestra finished a reply in “${title}”.`,
      conversationId: reply.conversationId,
    });
    return 'shown';
  }
}

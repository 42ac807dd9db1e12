import { describe, expect, it } from 'vitest';
import { ReplyNotifier, type ReplyNotifierDeps } from '../../../main/notify.js';

function setup(over: Partial<ReplyNotifierDeps> = {}) {
  const shown: Array<{ title: string; body: string; conversationId: string }> = [];
  let now = 0;
  const state = { focused: false, enabled: true, supported: true };
  const notifier = new ReplyNotifier({
    windowFocused: () => state.focused,
    enabled: () => state.enabled,
    supported: () => state.supported,
    show: (n) => shown.push(n),
    now: () => now,
    quietMs: 2_000,
    ...over,
  });
  return { notifier, shown, state, advance: (ms: number) => (now += ms) };
}

describe('ReplyNotifier', () => {
  it('notifies when a reply finishes while the window is in the background', () => {
    const { notifier, shown } = setup();
    expect(notifier.replyFinished({ conversationId: 'c1', title: 'Release plan' })).toBe('shown');
    expect(shown).toEqual([{ title: 'Reply ready', body: 'Orchestra finished a reply in “Release plan”.', conversationId: 'c1' }]);
  });

  it('stays quiet while the window has focus, when turned off, or without notification support', () => {
    const { notifier, shown, state } = setup();
    state.focused = true;
    expect(notifier.replyFinished({ conversationId: 'c1', title: 'x' })).toBe('focused');
    state.focused = false;
    state.enabled = false;
    expect(notifier.replyFinished({ conversationId: 'c1', title: 'x' })).toBe('disabled');
    state.enabled = true;
    state.supported = false;
    expect(notifier.replyFinished({ conversationId: 'c1', title: 'x' })).toBe('unsupported');
    expect(shown).toEqual([]);
  });

  it('reads the setting at every reply, so turning it off applies at once', () => {
    const { notifier, shown, state, advance } = setup();
    notifier.replyFinished({ conversationId: 'c1', title: '' });
    state.enabled = false;
    advance(10_000);
    notifier.replyFinished({ conversationId: 'c1', title: '' });
    expect(shown).toHaveLength(1);
    expect(shown[0]?.body).toBe('Orchestra finished a reply.');
  });

  it('shows one notification per conversation within the quiet time', () => {
    const { notifier, shown, advance } = setup();
    expect(notifier.replyFinished({ conversationId: 'c1', title: 'a' })).toBe('shown');
    advance(1_999);
    expect(notifier.replyFinished({ conversationId: 'c1', title: 'a' })).toBe('repeated');
    expect(notifier.replyFinished({ conversationId: 'c2', title: 'b' })).toBe('shown');
    advance(1);
    expect(notifier.replyFinished({ conversationId: 'c1', title: 'a' })).toBe('shown');
    expect(shown.map((n) => n.conversationId)).toEqual(['c1', 'c2', 'c1']);
  });
});

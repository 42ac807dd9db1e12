import { describe, expect, it, vi } from 'vitest';
import { EventEmitter } from 'node:events';
import {
  clampToDisplays,
  layoutKey,
  restoreWindowState,
  saveWindowState,
  trackWindowState,
  type DisplayLike,
  type Rect,
  type ScreenLike,
} from '../../../main/window-state.js';
import type { KeyValueStore } from '../../../main/settings.js';

const laptop: DisplayLike = { id: 1, workArea: { x: 0, y: 0, width: 1440, height: 875 } };
const monitor: DisplayLike = { id: 2, workArea: { x: 1440, y: 0, width: 2560, height: 1415 } };

class MapStore implements KeyValueStore {
  readonly data = new Map<string, unknown>();
  get(key: string): unknown {
    // A JSON round trip, as electron-store does: nothing shared by reference.
    const v = this.data.get(key);
    return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
  }
  set(key: string, value: unknown): void {
    this.data.set(key, JSON.parse(JSON.stringify(value)));
  }
}

const screenOf = (...displays: DisplayLike[]): ScreenLike => ({ getAllDisplays: () => displays, getPrimaryDisplay: () => displays[0] as DisplayLike });

describe('clampToDisplays', () => {
  it.each<[string, Rect, Rect]>([
    ['inside: unchanged', { x: 100, y: 50, width: 1000, height: 700 }, { x: 100, y: 50, width: 1000, height: 700 }],
    ['hanging off the right edge: moved back', { x: 1000, y: 50, width: 1000, height: 700 }, { x: 440, y: 50, width: 1000, height: 700 }],
    ['above the top: moved down', { x: 100, y: -200, width: 1000, height: 700 }, { x: 100, y: 0, width: 1000, height: 700 }],
    ['larger than the display: shrunk to it', { x: 0, y: 0, width: 3000, height: 2000 }, { x: 0, y: 0, width: 1440, height: 875 }],
    ['on a display that is gone: centred on the primary one', { x: 3000, y: 200, width: 1200, height: 800 }, { x: 120, y: 38, width: 1200, height: 800 }],
  ])('%s', (_name, bounds, expected) => {
    expect(clampToDisplays(bounds, [laptop], laptop)).toEqual(expected);
  });

  it('keeps a window on the display it overlaps most', () => {
    expect(clampToDisplays({ x: 1300, y: 100, width: 1200, height: 800 }, [laptop, monitor], laptop)).toEqual({ x: 1440, y: 100, width: 1200, height: 800 });
  });
});

describe('window state per display layout', () => {
  it('is undefined before anything was saved (the window opens at its default size)', () => {
    expect(restoreWindowState(new MapStore(), screenOf(laptop))).toBeUndefined();
  });

  it('remembers size, position and maximised state for each arrangement of displays', () => {
    const store = new MapStore();
    const docked = screenOf(laptop, monitor);
    const alone = screenOf(laptop);
    saveWindowState(store, docked, { bounds: { x: 1600, y: 100, width: 2000, height: 1200 }, maximized: true });
    saveWindowState(store, alone, { bounds: { x: 20, y: 30, width: 1200, height: 800 }, maximized: false });
    expect(restoreWindowState(store, docked)).toEqual({ bounds: { x: 1600, y: 100, width: 2000, height: 1200 }, maximized: true });
    expect(restoreWindowState(store, alone)).toEqual({ bounds: { x: 20, y: 30, width: 1200, height: 800 }, maximized: false });
    expect(layoutKey([monitor, laptop])).toBe(layoutKey([laptop, monitor]));
  });

  it('in a new layout, reuses the last state clamped onto a display that is there', () => {
    const store = new MapStore();
    saveWindowState(store, screenOf(laptop, monitor), { bounds: { x: 1600, y: 100, width: 2000, height: 1200 }, maximized: false });
    // The monitor was unplugged: the window comes back on the laptop, shrunk to fit.
    expect(restoreWindowState(store, screenOf(laptop))).toEqual({ bounds: { x: 0, y: 0, width: 1440, height: 875 }, maximized: false });
  });

  it('ignores a corrupted store', () => {
    const store = new MapStore();
    store.set('windowState', { layouts: { x: { bounds: { x: 'a' } } }, last: 'nope' });
    expect(restoreWindowState(store, screenOf(laptop))).toBeUndefined();
  });
});

class FakeWindow extends EventEmitter {
  bounds: Rect = { x: 10, y: 10, width: 900, height: 600 };
  maximized = false;
  destroyed = false;
  getNormalBounds(): Rect {
    return this.bounds;
  }
  isMaximized(): boolean {
    return this.maximized;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
}

describe('trackWindowState', () => {
  it('saves after moves settle and when the window closes, with the normal bounds while maximised', () => {
    vi.useFakeTimers();
    try {
      const store = new MapStore();
      const screen = screenOf(laptop);
      const win = new FakeWindow();
      trackWindowState(win, store, screen, 500);
      win.bounds = { x: 50, y: 60, width: 1000, height: 700 };
      win.emit('move');
      win.emit('resize');
      vi.advanceTimersByTime(499);
      expect(restoreWindowState(store, screen)).toBeUndefined();
      vi.advanceTimersByTime(1);
      expect(restoreWindowState(store, screen)).toEqual({ bounds: { x: 50, y: 60, width: 1000, height: 700 }, maximized: false });
      win.maximized = true;
      win.emit('maximize');
      win.emit('close');
      expect(restoreWindowState(store, screen)).toEqual({ bounds: { x: 50, y: 60, width: 1000, height: 700 }, maximized: true });
      win.destroyed = true;
      win.bounds = { x: 0, y: 0, width: 800, height: 600 };
      win.emit('resize');
      vi.advanceTimersByTime(1_000);
      expect(restoreWindowState(store, screen)?.bounds.width).toBe(1000);
    } finally {
      vi.useRealTimers();
    }
  });
});

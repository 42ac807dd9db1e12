import type { KeyValueStore } from './settings.js';

/**
 * The window's size, position and maximised state, remembered per display layout: a laptop that
 * is sometimes docked to a large monitor gets each arrangement back. When the layout is new (or
 * the display the window was on is gone), the last known size is reused, clamped onto a display
 * that is actually there, so the window never opens off-screen.
 */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DisplayLike {
  id: number;
  /** The usable area (without task bars and docks), in screen coordinates. */
  workArea: Rect;
}

export interface ScreenLike {
  getAllDisplays(): DisplayLike[];
  getPrimaryDisplay(): DisplayLike;
}

export interface WindowState {
  bounds: Rect;
  maximized: boolean;
}

interface StoredStates {
  /** Keyed by layoutKey(displays). */
  layouts: Record<string, WindowState>;
  last?: WindowState;
}

export const DEFAULT_SIZE = { width: 1280, height: 820 };
export const MIN_SIZE = { width: 760, height: 520 };
const STORE_KEY = 'windowState';
/** Keep this many layouts; the oldest is forgotten first. */
const MAX_LAYOUTS = 8;

/** One key per arrangement of displays: which displays, where, and how large. */
export function layoutKey(displays: DisplayLike[]): string {
  return displays
    .map((d) => `${d.id}@${d.workArea.x},${d.workArea.y},${d.workArea.width}x${d.workArea.height}`)
    .sort()
    .join('|');
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function parseState(v: unknown): WindowState | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { bounds, maximized } = v as Record<string, unknown>;
  if (typeof bounds !== 'object' || bounds === null) return undefined;
  const { x, y, width, height } = bounds as Record<string, unknown>;
  if (!isNumber(x) || !isNumber(y) || !isNumber(width) || !isNumber(height) || width <= 0 || height <= 0) return undefined;
  return { bounds: { x, y, width, height }, maximized: maximized === true };
}

function parseStored(v: unknown): StoredStates {
  const out: StoredStates = { layouts: {} };
  if (typeof v !== 'object' || v === null) return out;
  const { layouts, last } = v as Record<string, unknown>;
  if (typeof layouts === 'object' && layouts !== null) {
    for (const [key, state] of Object.entries(layouts)) {
      const parsed = parseState(state);
      if (parsed) out.layouts[key] = parsed;
    }
  }
  const lastState = parseState(last);
  if (lastState) out.last = lastState;
  return out;
}

function overlap(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * Bounds that lie on a display: on the one the window overlaps most, or centred on the primary
 * display when it overlaps none. Larger than the display: shrunk to fit (not below the minimum).
 */
export function clampToDisplays(bounds: Rect, displays: DisplayLike[], primary: DisplayLike): Rect {
  let best: DisplayLike | undefined;
  let bestArea = 0;
  for (const d of displays) {
    const area = overlap(bounds, d.workArea);
    if (area > bestArea) {
      best = d;
      bestArea = area;
    }
  }
  const area = (best ?? primary).workArea;
  const width = Math.max(Math.min(bounds.width, area.width), Math.min(MIN_SIZE.width, area.width));
  const height = Math.max(Math.min(bounds.height, area.height), Math.min(MIN_SIZE.height, area.height));
  if (best === undefined) {
    return { x: Math.round(area.x + (area.width - width) / 2), y: Math.round(area.y + (area.height - height) / 2), width, height };
  }
  const x = Math.min(Math.max(bounds.x, area.x), area.x + area.width - width);
  const y = Math.min(Math.max(bounds.y, area.y), area.y + area.height - height);
  return { x, y, width, height };
}

/** Where the window opens: the state saved for this layout, else the last one clamped; undefined: the defaults. */
export function restoreWindowState(store: KeyValueStore, screen: ScreenLike): WindowState | undefined {
  const stored = parseStored(store.get(STORE_KEY));
  const displays = screen.getAllDisplays();
  const saved = stored.layouts[layoutKey(displays)] ?? stored.last;
  if (saved === undefined) return undefined;
  return { bounds: clampToDisplays(saved.bounds, displays, screen.getPrimaryDisplay()), maximized: saved.maximized };
}

export function saveWindowState(store: KeyValueStore, screen: ScreenLike, state: WindowState): void {
  const stored = parseStored(store.get(STORE_KEY));
  const key = layoutKey(screen.getAllDisplays());
  delete stored.layouts[key]; // re-inserted last: the most recently used layout is kept longest
  stored.layouts[key] = state;
  const keys = Object.keys(stored.layouts);
  for (const old of keys.slice(0, Math.max(0, keys.length - MAX_LAYOUTS))) delete stored.layouts[old];
  store.set(STORE_KEY, { layouts: stored.layouts, last: state });
}

/** The slice of BrowserWindow the tracker uses. */
export interface TrackedWindow {
  getNormalBounds(): Rect;
  isMaximized(): boolean;
  isDestroyed(): boolean;
  on(event: 'resize' | 'move' | 'maximize' | 'unmaximize' | 'close', listener: () => void): unknown;
}

/**
 * Saves the window's state when it changes (debounced: a drag fires many move events) and when it
 * closes. The normal bounds are saved even while maximised, so un-maximising restores them.
 */
export function trackWindowState(win: TrackedWindow, store: KeyValueStore, screen: ScreenLike, debounceMs = 500): () => void {
  let timer: NodeJS.Timeout | undefined;
  const save = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (win.isDestroyed()) return;
    saveWindowState(store, screen, { bounds: win.getNormalBounds(), maximized: win.isMaximized() });
  };
  const later = (): void => {
    clearTimeout(timer);
    timer = setTimeout(save, debounceMs);
  };
  for (const event of ['resize', 'move', 'maximize', 'unmaximize'] as const) win.on(event, later);
  win.on('close', save);
  return save;
}

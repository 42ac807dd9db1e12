/** The keyboard shortcuts, as one table the handler and the `?` list both read. */
export type ShortcutAction = 'stop' | 'search' | 'new-chat' | 'help';

export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

export const SHORTCUTS: Array<{ keys: string; does: string }> = [
  { keys: 'Enter', does: 'Send the message' },
  { keys: 'Shift + Enter', does: 'New line in the message' },
  { keys: 'Esc', does: 'Stop the reply (or close a dialog)' },
  { keys: 'Ctrl/⌘ + K', does: 'Search conversations' },
  { keys: 'Ctrl/⌘ + Shift + O', does: 'New chat' },
  { keys: '↑ in an empty message box', does: 'Edit your last message' },
  { keys: '?', does: 'Show this list' },
];

/** What a key press asks for; `typing` is true when focus is in a text field. */
export function shortcutOf(e: KeyLike, typing: boolean): ShortcutAction | null {
  const mod = e.ctrlKey || e.metaKey;
  if (e.key === 'Escape') return 'stop';
  if (mod && !e.shiftKey && !e.altKey && e.key.toLowerCase() === 'k') return 'search';
  if (mod && e.shiftKey && !e.altKey && e.key.toLowerCase() === 'o') return 'new-chat';
  if (!typing && !mod && !e.altKey && e.key === '?') return 'help';
  return null;
}

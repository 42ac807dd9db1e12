import type { MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  openSettings(): void;
  newChat(): void;
  reload(): void;
  toggleDevTools(): void;
  checkForUpdates(): void;
}

export interface MenuOptions {
  appName: string;
  platform: NodeJS.Platform;
  /** DevTools only in debug runs (`--debug` or ORCHESTRA_DEBUG=1): the shipped app keeps the page closed. */
  debug: boolean;
  /** Whether an update feed is set; without one the menu offers no update check. */
  updatesEnabled: boolean;
  actions: MenuActions;
}

/**
 * The application menu: the platform's standard roles (so copy, paste, undo, window handling and
 * quitting work as people expect) plus the app's own commands. Built as plain data so it is
 * tested without Electron; main passes it to Menu.buildFromTemplate.
 */
export function menuTemplate(o: MenuOptions): MenuItemConstructorOptions[] {
  const mac = o.platform === 'darwin';
  const settings: MenuItemConstructorOptions = { id: 'settings', label: mac ? 'Settings…' : '&Settings…', accelerator: 'CmdOrCtrl+,', click: () => o.actions.openSettings() };
  const updates: MenuItemConstructorOptions[] = o.updatesEnabled
    ? [{ id: 'check-for-updates', label: 'Check for Updates…', click: () => o.actions.checkForUpdates() }]
    : [];
  const template: MenuItemConstructorOptions[] = [];
  if (mac) {
    template.push({
      label: o.appName,
      submenu: [
        { role: 'about' },
        ...updates,
        { type: 'separator' },
        settings,
        { type: 'separator' },
        { role: 'services' },
        { type: 'separator' },
        { role: 'hide' },
        { role: 'hideOthers' },
        { role: 'unhide' },
        { type: 'separator' },
        { role: 'quit' },
      ],
    });
  }
  template.push({
    label: mac ? 'File' : '&File',
    submenu: [
      { id: 'new-chat', label: 'New Chat', accelerator: 'CmdOrCtrl+N', click: () => o.actions.newChat() },
      ...(mac ? [] : [{ type: 'separator' } as const, settings, { type: 'separator' } as const]),
      mac ? { role: 'close' } : { role: 'quit' },
    ],
  });
  template.push({ label: mac ? 'Edit' : '&Edit', role: 'editMenu' });
  template.push({
    label: mac ? 'View' : '&View',
    submenu: [
      { id: 'reload', label: 'Reload', accelerator: 'CmdOrCtrl+R', click: () => o.actions.reload() },
      ...(o.debug ? [{ id: 'devtools', label: 'Toggle Developer Tools', accelerator: mac ? 'Alt+Command+I' : 'Ctrl+Shift+I', click: () => o.actions.toggleDevTools() }] : []),
      { type: 'separator' },
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
    ],
  });
  template.push({ label: mac ? 'Window' : '&Window', role: 'windowMenu' });
  if (!mac) template.push({ label: '&Help', submenu: [...updates, { role: 'about' }] });
  return template;
}

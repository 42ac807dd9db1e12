import type { MenuItemConstructorOptions } from 'electron';
import { describe, expect, it, vi } from 'vitest';
import { menuTemplate, type MenuActions } from '../../../main/menu.js';

const actions = () => ({
  openSettings: vi.fn<() => void>(),
  newChat: vi.fn<() => void>(),
  reload: vi.fn<() => void>(),
  toggleDevTools: vi.fn<() => void>(),
  checkForUpdates: vi.fn<() => void>(),
}) satisfies MenuActions;

/** Every item of the template, depth first. */
function items(template: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] {
  return template.flatMap((item) => [item, ...(Array.isArray(item.submenu) ? items(item.submenu) : [])]);
}

const byId = (template: MenuItemConstructorOptions[], id: string) => items(template).find((i) => i.id === id);
const roles = (template: MenuItemConstructorOptions[]) => items(template).flatMap((i) => (i.role ? [i.role] : []));

function click(item: MenuItemConstructorOptions | undefined): void {
  if (!item?.click) throw new Error('no click handler');
  (item.click as () => void)();
}

describe('the application menu', () => {
  it.each(['linux', 'win32', 'darwin'] as const)('has the standard roles and the app commands on %s', (platform) => {
    const a = actions();
    const template = menuTemplate({ appName: 'Orchestra', platform, debug: false, updatesEnabled: false, actions: a });
    expect(roles(template)).toEqual(expect.arrayContaining(['editMenu', 'windowMenu', 'resetZoom', 'zoomIn', 'zoomOut', 'togglefullscreen', 'about']));
    expect(roles(template)).toContain(platform === 'darwin' ? 'close' : 'quit');
    if (platform === 'darwin') {
      expect(template[0]?.label).toBe('Orchestra');
      expect(roles(template)).toEqual(expect.arrayContaining(['services', 'hide', 'hideOthers', 'unhide', 'quit']));
    }
    click(byId(template, 'settings'));
    click(byId(template, 'new-chat'));
    click(byId(template, 'reload'));
    expect(a.openSettings).toHaveBeenCalledTimes(1);
    expect(a.newChat).toHaveBeenCalledTimes(1);
    expect(a.reload).toHaveBeenCalledTimes(1);
    expect(byId(template, 'settings')?.accelerator).toBe('CmdOrCtrl+,');
    expect(byId(template, 'new-chat')?.accelerator).toBe('CmdOrCtrl+N');
  });

  it('offers DevTools only in debug runs', () => {
    const a = actions();
    expect(byId(menuTemplate({ appName: 'O', platform: 'linux', debug: false, updatesEnabled: false, actions: a }), 'devtools')).toBeUndefined();
    expect(roles(menuTemplate({ appName: 'O', platform: 'linux', debug: false, updatesEnabled: false, actions: a }))).not.toContain('toggleDevTools');
    const debug = menuTemplate({ appName: 'O', platform: 'linux', debug: true, updatesEnabled: false, actions: a });
    click(byId(debug, 'devtools'));
    expect(a.toggleDevTools).toHaveBeenCalledTimes(1);
  });

  it('offers an update check only when an update URL is set', () => {
    const a = actions();
    expect(byId(menuTemplate({ appName: 'O', platform: 'linux', debug: false, updatesEnabled: false, actions: a }), 'check-for-updates')).toBeUndefined();
    for (const platform of ['linux', 'darwin'] as const) {
      click(byId(menuTemplate({ appName: 'O', platform, debug: false, updatesEnabled: true, actions: a }), 'check-for-updates'));
    }
    expect(a.checkForUpdates).toHaveBeenCalledTimes(2);
  });
});

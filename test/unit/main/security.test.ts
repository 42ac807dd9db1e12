import { describe, expect, it, vi } from 'vitest';
import {
  decideNavigation,
  denyAllPermissions,
  DESKTOP_CSP,
  enforceCsp,
  guardWebContents,
  isAllowedUrl,
  type NavigationEventLike,
  type SessionLike,
  type WebContentsLike,
} from '../../../main/security.js';

const BACKEND = 'http://127.0.0.1:43123';

describe('isAllowedUrl', () => {
  const table: Array<[string, string | undefined, boolean]> = [
    // the app itself
    [`${BACKEND}/`, BACKEND, true],
    [`${BACKEND}`, BACKEND, true],
    [`${BACKEND}/pair?token=abc`, BACKEND, true],
    [`${BACKEND}/#/c/0193`, BACKEND, true],
    [`${BACKEND}/api/status`, `${BACKEND}/`, true],
    ['http://127.0.0.1:43123/', 'http://127.0.0.1:43123/some/path', true],
    ['HTTP://127.0.0.1:43123/', BACKEND, true],
    // same host, other port or scheme
    ['http://127.0.0.1:43124/', BACKEND, false],
    ['http://127.0.0.1/', BACKEND, false],
    ['https://127.0.0.1:43123/', BACKEND, false],
    ['ws://127.0.0.1:43123/ws', BACKEND, false],
    // other names for the same machine are other origins
    ['http://localhost:43123/', BACKEND, false],
    ['http://[::1]:43123/', BACKEND, false],
    // look-alikes and credentials tricks
    ['http://127.0.0.1.evil.example:43123/', BACKEND, false],
    ['http://127.0.0.1:43123@evil.example/', BACKEND, false],
    ['http://user:pass@127.0.0.1:43123/', BACKEND, false],
    ['http://evil.example/?http://127.0.0.1:43123/', BACKEND, false],
    // schemes that must never load in the window
    ['file:///etc/passwd', BACKEND, false],
    ['javascript:alert(1)', BACKEND, false],
    ['data:text/html,<script>alert(1)</script>', BACKEND, false],
    ['about:blank', BACKEND, false],
    ['chrome://settings', BACKEND, false],
    ['devtools://devtools/bundled/inspector.html', BACKEND, false],
    // garbage in, no out
    ['not a url', BACKEND, false],
    ['', BACKEND, false],
    [`${BACKEND}/`, undefined, false],
    [`${BACKEND}/`, 'not a url', false],
    ['https://example.com/', BACKEND, false],
  ];

  it.each(table)('%s (backend %s) → %s', (url, backend, expected) => {
    expect(isAllowedUrl(url, backend)).toBe(expected);
  });
});

describe('decideNavigation', () => {
  it.each([
    [`${BACKEND}/`, 'allow'],
    ['https://example.com/docs', 'open-external'],
    ['http://127.0.0.1:9999/', 'open-external'],
    ['file:///etc/passwd', 'deny'],
    ['javascript:alert(1)', 'deny'],
    ['https://user:pw@example.com/', 'deny'],
    ['mailto:someone@example.com', 'deny'],
  ] as const)('%s → %s', (url, decision) => {
    expect(decideNavigation(url, BACKEND)).toBe(decision);
  });
});

function fakeContents() {
  const listeners = new Map<string, (event: NavigationEventLike, url: string) => void>();
  let openHandler: ((details: { url: string }) => { action: 'deny' }) | undefined;
  const contents: WebContentsLike = {
    on(event: string, listener: (event: NavigationEventLike, url: string) => void) {
      listeners.set(event, listener);
      return contents;
    },
    setWindowOpenHandler(handler) {
      openHandler = handler;
    },
  };
  const fire = (event: string, url = ''): boolean => {
    let prevented = false;
    listeners.get(event)?.({ preventDefault: () => (prevented = true) }, url);
    return prevented;
  };
  return { contents, fire, open: (url: string) => openHandler?.({ url }) };
}

describe('guardWebContents', () => {
  it('keeps navigation on the backend origin and sends web links to the system browser', () => {
    const { contents, fire } = fakeContents();
    const openExternal = vi.fn();
    let backend = BACKEND;
    guardWebContents(contents, { backendUrl: () => backend, openExternal });

    expect(fire('will-navigate', `${BACKEND}/#/c/1`)).toBe(false);
    expect(fire('will-redirect', `${BACKEND}/`)).toBe(false);
    expect(fire('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(fire('will-navigate', 'https://example.com/')).toBe(true);
    expect(openExternal).toHaveBeenCalledExactlyOnceWith('https://example.com/');

    // After a restart on another port the old origin is foreign.
    backend = 'http://127.0.0.1:50000';
    expect(fire('will-navigate', `${BACKEND}/`)).toBe(true);
    expect(fire('will-attach-webview')).toBe(true);
  });

  it('never opens a new window', () => {
    const { contents, open } = fakeContents();
    const openExternal = vi.fn();
    guardWebContents(contents, { backendUrl: () => BACKEND, openExternal });
    expect(open(`${BACKEND}/`)).toEqual({ action: 'deny' });
    expect(open('javascript:alert(1)')).toEqual({ action: 'deny' });
    expect(open('https://example.com/')).toEqual({ action: 'deny' });
    expect(openExternal).toHaveBeenCalledExactlyOnceWith('https://example.com/');
  });
});

function fakeSession() {
  let request: ((wc: unknown, permission: string, cb: (granted: boolean) => void) => void) | null = null;
  let check: ((wc: unknown, permission: string) => boolean) | null = null;
  let headers: Parameters<SessionLike['webRequest']['onHeadersReceived']>[0] | undefined;
  const session: SessionLike = {
    setPermissionRequestHandler: (h) => (request = h),
    setPermissionCheckHandler: (h) => (check = h),
    webRequest: { onHeadersReceived: (l) => (headers = l) },
  };
  return { session, request: () => request, check: () => check, headers: () => headers };
}

describe('session guards', () => {
  it('denies every permission request and check', () => {
    const f = fakeSession();
    denyAllPermissions(f.session);
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) {
      const cb = vi.fn();
      f.request()?.({}, permission, cb);
      expect(cb).toHaveBeenCalledExactlyOnceWith(false);
      expect(f.check()?.({}, permission)).toBe(false);
    }
  });

  it('replaces any Content-Security-Policy header with the desktop one', () => {
    const f = fakeSession();
    enforceCsp(f.session);
    const callback = vi.fn();
    f.headers()?.({ url: `${BACKEND}/`, responseHeaders: { 'content-security-policy': ["default-src *"], 'X-Other': ['1'] } }, callback);
    expect(callback).toHaveBeenCalledExactlyOnceWith({ responseHeaders: { 'X-Other': ['1'], 'Content-Security-Policy': [DESKTOP_CSP] } });
    expect(DESKTOP_CSP).toContain("script-src 'self'");
    expect(DESKTOP_CSP).not.toContain('unsafe-eval');
  });
});

import { CONTENT_SECURITY_POLICY } from '../backend/http/security.js';

/**
 * Every navigation and permission rule of the desktop shell, in one module. The window may only
 * ever show the backend's own origin; everything else is refused, and plain web links are handed
 * to the system browser instead of being opened inside the app.
 */

/** The same policy the backend sends with the app's HTML, enforced again by the shell. */
export const DESKTOP_CSP = CONTENT_SECURITY_POLICY;

function parse(url: string | undefined): URL | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * Whether the app window may load `url`: only http(s) on exactly the backend's origin (scheme,
 * host and port), with no credentials in the URL. Pure, so it is tested as a table.
 */
export function isAllowedUrl(url: string, backendUrl: string | undefined): boolean {
  const target = parse(url);
  const backend = parse(backendUrl);
  if (target === undefined || backend === undefined) return false;
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return false;
  if (target.username !== '' || target.password !== '') return false;
  return target.origin === backend.origin;
}

/** Links a person clicked that are not the app: opened in the system browser, if http(s). */
export function isExternalWebUrl(url: string): boolean {
  const target = parse(url);
  return target !== undefined && (target.protocol === 'https:' || target.protocol === 'http:') && target.username === '' && target.password === '';
}

export type NavigationDecision = 'allow' | 'open-external' | 'deny';

export function decideNavigation(url: string, backendUrl: string | undefined): NavigationDecision {
  if (isAllowedUrl(url, backendUrl)) return 'allow';
  return isExternalWebUrl(url) ? 'open-external' : 'deny';
}

/** The parts of Electron's Session the guards touch. */
export interface SessionLike {
  setPermissionRequestHandler(handler: ((webContents: unknown, permission: string, callback: (granted: boolean) => void) => void) | null): void;
  setPermissionCheckHandler(handler: ((webContents: unknown, permission: string) => boolean) | null): void;
  webRequest: {
    onHeadersReceived(
      listener: (
        details: { url: string; responseHeaders?: Record<string, string[]> },
        callback: (response: { responseHeaders?: Record<string, string[]> }) => void,
      ) => void,
    ): void;
  };
}

export interface NavigationEventLike {
  preventDefault(): void;
}

/** The parts of Electron's WebContents the guards touch. */
export interface WebContentsLike {
  on(event: 'will-navigate', listener: (event: NavigationEventLike, url: string) => void): unknown;
  on(event: 'will-redirect', listener: (event: NavigationEventLike, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: NavigationEventLike) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

export interface GuardOptions {
  /** The backend URL right now (it changes when the backend restarts on another port). */
  backendUrl: () => string | undefined;
  openExternal: (url: string) => void;
  log?: (line: string) => void;
}

/** Permissions (camera, microphone, notifications, geolocation…): the app needs none, so all are denied. */
export function denyAllPermissions(session: SessionLike, log?: (line: string) => void): void {
  session.setPermissionRequestHandler((_wc, permission, callback) => {
    log?.(`denied permission request: ${permission}`);
    callback(false);
  });
  session.setPermissionCheckHandler(() => false);
}

/** Adds the CSP to every response, replacing whatever the server sent under any capitalisation. */
export function enforceCsp(session: SessionLike, csp: string = DESKTOP_CSP): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    const headers: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(details.responseHeaders ?? {})) {
      if (name.toLowerCase() !== 'content-security-policy') headers[name] = value;
    }
    headers['Content-Security-Policy'] = [csp];
    callback({ responseHeaders: headers });
  });
}

/**
 * Navigation, redirect and window-open guards for one WebContents. In-app navigation stays on the
 * backend origin; a web link opens in the system browser; anything else (file:, javascript:,
 * data:, another port) is refused. New windows are never created, and <webview> never attaches.
 */
export function guardWebContents(contents: WebContentsLike, options: GuardOptions): void {
  const check = (event: NavigationEventLike, url: string): void => {
    const decision = decideNavigation(url, options.backendUrl());
    if (decision === 'allow') return;
    event.preventDefault();
    if (decision === 'open-external') options.openExternal(url);
    else options.log?.(`blocked navigation to ${url}`);
  };
  contents.on('will-navigate', check);
  contents.on('will-redirect', check);
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    options.log?.('blocked a <webview>');
  });
  contents.setWindowOpenHandler(({ url }) => {
    // The app itself never opens windows; a web link goes to the system browser.
    if (decideNavigation(url, options.backendUrl()) === 'open-external') options.openExternal(url);
    else options.log?.(`blocked window.open to ${url}`);
    return { action: 'deny' };
  });
}

import type { OrchestraBridge } from '../../../preload/api.js';

declare global {
  interface Window {
    /** Present only in the desktop app (set by the preload); a plain browser has none. */
    orchestra?: OrchestraBridge;
  }
}

export function desktopBridge(): OrchestraBridge | undefined {
  return typeof window === 'undefined' ? undefined : window.orchestra;
}

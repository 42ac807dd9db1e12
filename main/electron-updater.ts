import electronUpdater from 'electron-updater';
import type { UpdaterLike } from './updates.js';

/**
 * The real updater: electron-updater's autoUpdater on a generic feed. A found update downloads in
 * the background and installs when the app quits (autoInstallOnAppQuit), so an update never
 * interrupts a reply.
 */
export function electronUpdaterAdapter(log: (line: string) => void): UpdaterLike {
  const { autoUpdater } = electronUpdater;
  autoUpdater.autoDownload = true;
  autoUpdater.autoInstallOnAppQuit = true;
  autoUpdater.logger = { info: (m: unknown) => log(`updater: ${String(m)}`), warn: (m: unknown) => log(`updater: ${String(m)}`), error: (m: unknown) => log(`updater: ${String(m)}`), debug: () => undefined };
  return {
    setFeed: (url) => autoUpdater.setFeedURL({ provider: 'generic', url }),
    check: async () => {
      const result = await autoUpdater.checkForUpdates();
      if (result === null) throw new Error('the updater is not active in this build (development run or unsupported package format)');
      return { available: result.isUpdateAvailable, version: result.updateInfo.version };
    },
  };
}

import { parse } from 'yaml';
import type { UpdaterLike } from '../../../main/updates.js';

/** 1.2.10 > 1.2.9; a pre-release sorts before its release. Enough for the feeds in these tests. */
export function compareVersions(a: string, b: string): number {
  const [coreA = '', preA] = a.split('-', 2);
  const [coreB = '', preB] = b.split('-', 2);
  const pa = coreA.split('.').map(Number);
  const pb = coreB.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  return preA < preB ? -1 : 1;
}

/**
 * Stands in for electron-updater (which needs Electron) and reads a generic feed the way its
 * generic provider does: `latest-linux.yml` in the feed folder, its `version` compared with the
 * running one. HTTP errors and unreadable files reject, as they do in electron-updater.
 */
export class FeedUpdater implements UpdaterLike {
  feed: string | undefined;
  readonly feedsSet: string[] = [];
  checks = 0;

  constructor(private readonly currentVersion: string) {}

  setFeed(url: string): void {
    this.feed = url;
    this.feedsSet.push(url);
  }

  async check(): Promise<{ available: boolean; version: string }> {
    this.checks++;
    if (this.feed === undefined) throw new Error('no feed set');
    const url = new URL('latest-linux.yml', this.feed.endsWith('/') ? this.feed : `${this.feed}/`);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`Cannot find latest-linux.yml in the latest release artifacts (${url.href}): HttpError: ${res.status}`);
    let info: { version?: unknown } | null;
    try {
      info = parse(await res.text()) as { version?: unknown } | null;
    } catch (err) {
      throw new Error(`Cannot parse update info from latest-linux.yml in ${url.href}: ${(err as Error).message}`);
    }
    if (typeof info?.version !== 'string') throw new Error(`Cannot parse update info from latest-linux.yml in ${url.href}: no version`);
    return { available: compareVersions(info.version, this.currentVersion) > 0, version: info.version };
  }
}

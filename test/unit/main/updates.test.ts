import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateService, type UpdateStatus } from '../../../main/updates.js';
import { compareVersions, FeedUpdater } from './fake-updater.js';

/** A generic update feed: folders that serve latest-linux.yml (or fail) as a web server would. */
const FEEDS: Record<string, { status: number; body: string }> = {
  '/newer/latest-linux.yml': {
    status: 200,
    body: [
      'version: 0.2.0',
      'files:',
      '  - url: Orchestra-0.2.0-linux-x86_64.AppImage',
      '    sha512: 6QpcVbR5eVDQaN0Lb9Yg0vWvDtz0ORWy7T+XyKRHg9cJe3aJDLo6QjYCAH1TWPC0MRTWAJzzbd86CiSa/0Wgcg==',
      '    size: 123456789',
      'path: Orchestra-0.2.0-linux-x86_64.AppImage',
      "releaseDate: '2026-11-01T10:00:00.000Z'",
      '',
    ].join('\n'),
  },
  '/same/latest-linux.yml': { status: 200, body: 'version: 0.1.0\npath: Orchestra-0.1.0-linux-x86_64.AppImage\n' },
  '/broken/latest-linux.yml': { status: 200, body: 'this is: [not yaml\n' },
  '/down/latest-linux.yml': { status: 503, body: 'maintenance' },
};

let server: Server;
let base: string;
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const feed = FEEDS[req.url ?? ''];
    res.writeHead(feed?.status ?? 404, { 'Content-Type': 'text/yaml' });
    res.end(feed?.body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function setup(feedUrl: string) {
  const updater = new FeedUpdater('0.1.0');
  const statuses: UpdateStatus[] = [];
  const settings = { updateUrl: feedUrl };
  const service = new UpdateService({ updater, feedUrl: () => settings.updateUrl, currentVersion: '0.1.0', onStatus: (s) => statuses.push(s) });
  return { updater, statuses, settings, service };
}

describe('UpdateService against a generic feed over HTTP', () => {
  it('is off without an update URL and contacts nothing', async () => {
    const before = requests.length;
    const { service, updater } = setup('');
    await expect(service.check()).resolves.toEqual({ state: 'disabled', message: 'Update checks are off: no update URL is set in Settings.' });
    expect(updater.feedsSet).toEqual([]);
    expect(updater.checks).toBe(0);
    expect(requests.length).toBe(before);
  });

  it('finds a newer version in latest-linux.yml', async () => {
    const { service, statuses, updater } = setup(`${base}/newer`);
    const status = await service.check();
    expect(status).toMatchObject({ state: 'available', version: '0.2.0', feedUrl: `${base}/newer` });
    expect(status.message).toBe('Orchestra 0.2.0 is available (this is 0.1.0); it downloads in the background and installs when you quit.');
    expect(statuses.map((s) => s.state)).toEqual(['checking', 'available']);
    expect(updater.feedsSet).toEqual([`${base}/newer`]);
    expect(requests).toContain('/newer/latest-linux.yml');
  });

  it('reports up to date when the feed has the running version', async () => {
    const { service } = setup(`${base}/same/`);
    await expect(service.check()).resolves.toMatchObject({ state: 'not-available', version: '0.1.0', message: 'Orchestra 0.1.0 is up to date.' });
  });

  it.each([
    ['a missing feed (404)', '/missing', /Could not check for updates at .*\/missing: Cannot find latest-linux\.yml .*HttpError: 404/],
    ['a server error (503)', '/down', /HttpError: 503/],
    ['an unreadable file', '/broken', /Cannot parse update info/],
  ])('reports %s as an error naming the feed', async (_name, feed, message) => {
    const { service, statuses } = setup(`${base}${feed}`);
    const status = await service.check();
    expect(status.state).toBe('error');
    expect(status.message).toMatch(message);
    expect(statuses.at(-1)).toEqual(status);
    expect(service.status).toEqual(status);
  });

  it('reports a feed that does not answer', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { service } = setup(`http://127.0.0.1:${port}/feed`);
    const status = await service.check();
    expect(status.state).toBe('error');
    expect(status.message).toMatch(new RegExp(`^Could not check for updates at http://127\\.0\\.0\\.1:${port}/feed: `));
  });

  it('refuses an update URL that is not http(s), without contacting anything', async () => {
    const { service, updater } = setup('file:///srv/updates');
    const status = await service.check();
    expect(status.state).toBe('error');
    expect(status.message).toMatch(/is not usable .*fix it in Settings/);
    expect(updater.checks).toBe(0);
  });

  it('follows a changed setting at the next check and coalesces concurrent checks', async () => {
    const { service, settings, updater } = setup(`${base}/same`);
    const [a, b] = await Promise.all([service.check(), service.check()]);
    expect(a).toBe(b);
    expect(updater.checks).toBe(1);
    settings.updateUrl = `${base}/newer`;
    await expect(service.check()).resolves.toMatchObject({ state: 'available' });
    await service.check();
    expect(updater.feedsSet).toEqual([`${base}/same`, `${base}/newer`]);
    settings.updateUrl = '';
    await expect(service.check()).resolves.toMatchObject({ state: 'disabled' });
  });
});

describe('compareVersions (the fake feed reader)', () => {
  it.each([
    ['0.2.0', '0.1.0', 1],
    ['0.1.10', '0.1.9', 1],
    ['0.1.0', '0.1.0', 0],
    ['0.1.0-beta.1', '0.1.0', -1],
    ['1.0.0', '0.9.9', 1],
  ])('%s vs %s is %i', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});

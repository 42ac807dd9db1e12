import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../backend/config/load.js';
import { PATIENCE_MS } from '../fixtures/patience.js';
import { startTestServer, tempDir, type TestServer } from '../fixtures/test-server.js';

/** A throwaway self-signed certificate for 127.0.0.1 and localhost, made with openssl. */
function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

function get(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, headers }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

const dir = tempDir('orchestra-tls-');
const pair = selfSigned(dir, 'server');
const other = selfSigned(dir, 'other');
const ca = readFileSync(pair.cert);

describe('TLS (TLS_CERT_FILE / TLS_KEY_FILE)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ provider: false, overrides: { tlsCertFile: pair.cert, tlsKeyFile: pair.key } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('serves HTTPS on the same port and says so', async () => {
    expect(t.server.tls).toBe(true);
    expect(t.server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(t.server.wsUrl).toBe(t.server.url);
    const health = await get(`${t.server.url}/healthz`, ca);
    expect(health.status).toBe(200);
    const status = await get(`${t.server.url}/api/status`, ca, { authorization: `Bearer ${t.token}` });
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ status: expect.any(String) as unknown });
  });

  it('the pairing cookie carries Secure', async () => {
    const res = await get((await t.server.pairingLink()).url, ca);
    expect(res.status).toBe(303);
    expect(String(res.headers['set-cookie'])).toMatch(/; Secure/);
  });

  it('speaks Socket.IO over WSS', async () => {
    expect(t.server.wsUrl).toMatch(/^https:/);
    const socket = connect(t.server.wsUrl, { path: '/ws', transports: ['websocket'], auth: { token: t.token }, ca: ca.toString('utf8'), forceNew: true, reconnection: false });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      expect(socket.io.engine.transport.name).toBe('websocket');
      expect((socket.io.engine as unknown as { secure: boolean }).secure).toBe(true);
      const ack = await socket.timeout(PATIENCE_MS).emitWithAck('conversation:join', { conversationId: '0190a0a0-0000-7000-8000-000000000000' });
      expect(ack).toBeDefined();
    } finally {
      socket.disconnect();
    }
  });
});

describe('TLS configuration errors stop start-up and name the key', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['a certificate without a key', { tlsCertFile: pair.cert }, /TLS_CERT_FILE.*TLS_KEY_FILE must be set too/],
    ['a key without a certificate', { tlsKeyFile: pair.key }, /TLS_KEY_FILE.*TLS_CERT_FILE must be set too/],
    ['a missing certificate file', { tlsCertFile: path.join(dir, 'nope.crt'), tlsKeyFile: pair.key }, /invalid TLS_CERT_FILE=.*cannot be read \(ENOENT\)/],
    ['a certificate that is not PEM', { tlsCertFile: path.join(dir, 'garbage.crt'), tlsKeyFile: pair.key }, /invalid TLS_CERT_FILE=.*expected a PEM certificate/],
    ['a key that belongs to another certificate', { tlsCertFile: pair.cert, tlsKeyFile: other.key }, /invalid TLS_KEY_FILE=.*does not fit TLS_CERT_FILE/],
  ];
  writeFileSync(path.join(dir, 'garbage.crt'), 'not a certificate\n');
  for (const [what, overrides, message] of cases) {
    it(what, async () => {
      const started = startTestServer({ provider: false, overrides });
      await expect(started).rejects.toBeInstanceOf(ConfigError);
      await expect(started).rejects.toThrow(message);
    });
  }
});

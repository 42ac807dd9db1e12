import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from './contract.js';

export type OrchestraSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * The Socket.IO connection at /ws on the page's own origin. The handshake carries the pairing
 * cookie (same origin, `withCredentials`), so the token never passes through JavaScript.
 */
export function createSocket(): OrchestraSocket {
  // WebSocket first: behind a load balancer it needs no sticky sessions; long-polling stays as a
  // fallback for networks that block WebSocket upgrades.
  return io({ path: '/ws', withCredentials: true, autoConnect: false, reconnectionDelayMax: 5_000, transports: ['websocket', 'polling'] });
}

export const ACK_TIMEOUT_MS = 15_000;

type AckResult<T> = Parameters<Ack<T>>[0];

/**
 * Wraps an ack callback so it is called exactly once: with the server's answer, or with an
 * `ack-timeout` error when none came within `ms` (the connection dropped mid-request, say).
 */
export function ackWithTimeout<T>(ms: number, onResult: (result: AckResult<T>) => void): Ack<T> {
  let settled = false;
  const timer = setTimeout(() => {
    if (settled) return;
    settled = true;
    onResult({ error: { code: 'ack-timeout', message: `the server did not answer within ${Math.round(ms / 1000)} s` } });
  }, ms);
  return (result) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    onResult(result);
  };
}

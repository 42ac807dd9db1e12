import { io as connect, type Socket } from 'socket.io-client';
import { request } from 'undici';
import { startProvider } from './chat-stream.js';
import { line, median, percentile, rssOf, startOrchestra } from './lib.js';

/**
 * Replies that outlive their viewers, at the scale of one instance:
 * - join catch-up: the `conversation:join` ack of a viewer arriving while a 2,000-token reply is
 *   streaming, with the text so far in the ack, p50 against the same join of a conversation with
 *   nothing streaming (same socket set-up, same run); target: under 20 ms;
 * - memory per concurrent streaming reply: the server's RSS with N replies streaming slowly
 *   (each followed over SSE) less its RSS before them, over N; target: at most 0.5 MB.
 */

interface Started {
  conversationId: string;
  messageId: string;
  /** Resolves once the stream has delivered `tokens` token events. */
  reached(tokens: number): Promise<void>;
  close(): void;
}

/** Starts a streamed turn and follows it over SSE without holding what it reads. */
async function startStream(url: string, token: string): Promise<Started> {
  const controller = new AbortController();
  const res = await request(`${url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ message: 'hi', stream: true }),
    signal: controller.signal,
  });
  if (res.statusCode !== 200) throw new Error(`POST /api/chat answered ${res.statusCode}`);
  let tokens = 0;
  let ids: { conversationId: string; messageId: string } | undefined;
  let waiting: { want: number; resolve: () => void } | undefined;
  let idsReady: () => void = () => {};
  const idsKnown = new Promise<void>((resolve) => (idsReady = resolve));
  let tail = '';
  res.body.on('data', (chunk: Buffer) => {
    const text = tail + chunk.toString();
    const cut = text.lastIndexOf('\n');
    tail = text.slice(cut + 1);
    for (const l of text.slice(0, cut).split('\n')) {
      if (!l.startsWith('data: ')) continue;
      tokens++;
      if (!ids) {
        const e = JSON.parse(l.slice(6)) as { conversationId: string; messageId: string };
        ids = { conversationId: e.conversationId, messageId: e.messageId };
        idsReady();
      }
    }
    if (waiting && tokens >= waiting.want) {
      waiting.resolve();
      waiting = undefined;
    }
  });
  res.body.on('error', () => {});
  await idsKnown;
  const known = ids as unknown as { conversationId: string; messageId: string };
  return {
    ...known,
    reached: (want) => (tokens >= want ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { want, resolve }))),
    close: () => controller.abort(),
  };
}

async function cancel(url: string, token: string, messageId: string): Promise<void> {
  const res = await request(`${url}/api/chat/${messageId}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  await res.body.text();
}

async function socketOf(url: string, token: string): Promise<Socket> {
  const socket = connect(url, { path: '/ws', transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

interface JoinAck {
  joined?: string;
  streaming?: Array<{ messageId: string; seq: number; content: string }>;
  error?: unknown;
}

/** ms from emitting `conversation:join` to its ack, on a fresh socket; returns the ack too. */
async function timeJoin(url: string, token: string, conversationId: string): Promise<{ ms: number; ack: JoinAck }> {
  const socket = await socketOf(url, token);
  try {
    const start = performance.now();
    const ack = (await socket.timeout(10_000).emitWithAck('conversation:join', { conversationId })) as JoinAck;
    const ms = performance.now() - start;
    if (ack.joined !== conversationId) throw new Error(`join failed: ${JSON.stringify(ack.error ?? ack)}`);
    return { ms, ack };
  } finally {
    socket.disconnect();
  }
}

export async function joinCatchUpBench(): Promise<void> {
  // 2,000 tokens, then the provider holds the reply open: a 2,000-token reply in progress.
  const provider = await startProvider(['--tokens', '100000', '--interval', '0', '--stall-after', '2000']);
  const orchestra = await startOrchestra({ LLM_BASE_URL: provider.url });
  try {
    const { url, token } = orchestra;
    // A conversation with nothing streaming: its first reply, cancelled.
    const idle = await startStream(url, token);
    await cancel(url, token, idle.messageId);
    idle.close();
    const live = await startStream(url, token);
    const joins: number[] = [];
    const idleJoins: number[] = [];
    let words = 0;
    for (let i = 0; i < 45; i++) {
      const j = await timeJoin(url, token, live.conversationId);
      const k = await timeJoin(url, token, idle.conversationId);
      const snap = j.ack.streaming?.find((s) => s.messageId === live.messageId);
      if (!snap) throw new Error('the join ack did not carry the streaming reply');
      words = snap.content.split(' ').length - 1;
      // Joins count once the reply is all there: before that the ack carries less than 2,000.
      if (words >= 2000) {
        joins.push(j.ms);
        idleJoins.push(k.ms);
      }
    }
    await cancel(url, token, live.messageId);
    live.close();
    if (joins.length < 20) throw new Error(`only ${joins.length} joins saw the whole 2,000 tokens`);
    const p50 = median(joins);
    line(
      `join catch-up ack, ${words}-token reply, p50`,
      `${p50.toFixed(2)} ms vs idle join ${median(idleJoins).toFixed(2)} ms`,
      `p95 ${percentile(joins, 0.95).toFixed(1)} ms (target p50 < 20 ms) ${p50 < 20 ? 'PASS' : 'MISS'}`,
    );
  } finally {
    await orchestra.stop();
    provider.child.kill();
  }
}

/** RSS over N concurrent streaming replies, each followed by an SSE client; per reply. */
export async function replyMemoryBench(n = 200): Promise<void> {
  // One token every 100 ms per reply: all N stay in progress while RSS is read.
  const provider = await startProvider(['--tokens', '100000', '--interval', '100']);
  const orchestra = await startOrchestra({ LLM_BASE_URL: provider.url, MAX_CONCURRENT_CHATS: String(n + 10) });
  const streams: Started[] = [];
  try {
    const { url, token } = orchestra;
    // Warm-up: the code paths of a streamed turn are compiled and their pools filled first.
    for (let i = 0; i < 10; i++) streams.push(await startStream(url, token));
    await Promise.all(streams.map((s) => s.reached(3)));
    for (const s of streams.splice(0)) {
      await cancel(url, token, s.messageId);
      s.close();
    }
    // The governance engines load in a worker thread on the first turn (tens of MB, once per
    // server): a validation waits for them, so their memory is in the baseline, not in the replies.
    const validated = await request(`${url}/api/validate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ files: [{ path: 'warm.ts', content: 'export const a = 1;\n' }] }),
    });
    await validated.body.text();
    const before = rssOf(orchestra.child.pid as number);
    for (let i = 0; i < n; i++) streams.push(await startStream(url, token));
    // Every reply has streamed for a while (progress written to the store more than once).
    await Promise.all(streams.map((s) => s.reached(10)));
    const after = rssOf(orchestra.child.pid as number);
    const per = (after - before) / n / 1024 / 1024;
    line(
      `memory per streaming reply (${n} at once)`,
      `RSS ${(before / 1048576).toFixed(1)} -> ${(after / 1048576).toFixed(1)} MB`,
      `${per.toFixed(3)} MB each (target <= 0.5 MB) ${per <= 0.5 ? 'PASS' : 'MISS'}`,
    );
  } finally {
    for (const s of streams) s.close();
    await orchestra.stop();
    provider.child.kill();
  }
}

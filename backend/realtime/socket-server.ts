import type http from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Broadcaster } from '../chat/broadcaster.js';
import type { ChatService } from '../chat/service.js';
import type { ConversationService } from '../chat/conversations.js';
import { RelayRepair, uncovered, type ReplyCatchUp, type ReplyFeed } from '../chat/replies.js';
import { AppError, errorBody } from '../http/errors.js';
import { presentedToken } from '../http/auth.js';
import { hostOf, isLoopback } from '../http/security.js';
import type { Metrics } from '../metrics/metrics.js';
import type { MetricsSnapshotter } from '../metrics/snapshot.js';
import { chatBody, MAX_MESSAGE_CHARS } from '../http/routes/chat.js';
import {
  METRICS_ROOM,
  conversationRoom,
  type Ack,
  type ClientToServerEvents,
  type InterServerEvents,
  type ReplyEvent,
  type ServerToClientEvents,
  type SocketData,
} from './events.js';

export type OrchestraServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type OrchestraSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface RealtimeDeps {
  chat: () => ChatService;
  conversations: ConversationService;
  tokenMatches: (candidate: string | undefined) => boolean;
  allowedHosts: Set<string>;
  corsOrigins: string[];
  logger: Logger;
  metrics: Metrics;
  snapshotter: MetricsSnapshotter;
  metricsIntervalMs?: number;
  /** Where reply events are handed to this instance's other followers (SSE). */
  feed: ReplyFeed;
  catchUp: ReplyCatchUp;
  /** Largest Socket.IO packet read; a bit above the largest chat:send, so those get an answer. */
  maxPacketBytes?: number;
}

/**
 * Socket.IO drops a packet over maxHttpBufferSize without a word (and closes the connection), so
 * the transport accepts more than a message may hold and the handler answers payload-too-large.
 */
export const MAX_SOCKET_PACKET_BYTES = 8 * 1024 * 1024;

const sendSchema = chatBody.omit({ stream: true });
const roomSchema = z.strictObject({ conversationId: z.uuid('conversationId must be a conversation id') });
const cancelSchema = z.strictObject({ messageId: z.uuid('messageId must be a message id') });

function reply<T>(ack: Ack<T> | undefined, value: T): void {
  if (typeof ack === 'function') ack(value);
}

function fail(ack: Ack<never> | undefined, err: unknown, log: Logger): void {
  const appError =
    err instanceof AppError ? err : new AppError(500, 'internal-error', 'something went wrong on the server; the log has the details');
  if (!(err instanceof AppError)) log.error({ err }, 'socket handler failed');
  if (typeof ack === 'function') ack(errorBody(appError));
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'payload';
  throw new AppError(400, 'invalid-request', `${field}: ${issue?.message ?? 'invalid'}`, { field });
}

/**
 * Socket.IO at /ws: conversation rooms, chat over the socket, metrics ticks. It is also the
 * chat service's broadcaster, so tokens reach every client that joined the conversation no matter
 * which transport started the turn.
 */
export class Realtime implements Broadcaster {
  readonly io: OrchestraServer;
  private readonly ticker: NodeJS.Timeout;
  /**
   * Sockets catching up on a conversation (between joining and their ack): the reply events they
   * would have received meanwhile, held back so that each token reaches them exactly once.
   */
  private readonly catchingUp = new Map<string, Map<string, ReplyEvent[]>>();
  private readonly relayed: RelayRepair;

  constructor(server: http.Server, private readonly deps: RealtimeDeps) {
    this.io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(server, {
      path: '/ws',
      serveClient: false,
      cors: { origin: deps.corsOrigins, credentials: true },
      maxHttpBufferSize: deps.maxPacketBytes ?? MAX_SOCKET_PACKET_BYTES,
      allowRequest: (req, callback) => {
        const host = hostOf(req.headers.host);
        callback(null, host !== undefined && deps.allowedHosts.has(host));
      },
    });
    this.io.use((socket, next) => {
      const auth = socket.handshake.auth as { token?: unknown };
      const token = typeof auth.token === 'string' ? auth.token : presentedToken(socket.handshake.headers);
      if (!deps.tokenMatches(token)) {
        const err = new Error(token === undefined ? 'unauthorized' : 'invalid-token') as Error & { data?: unknown };
        err.data = { code: token === undefined ? 'unauthorized' : 'invalid-token', message: 'the Socket.IO handshake needs the API token (auth: { token })' };
        next(err);
        return;
      }
      socket.data.remote = !isLoopback(socket.handshake.address);
      next();
    });
    this.relayed = new RelayRepair((e) => this.deliver(e), (id) => deps.conversations.message(id), deps.logger);
    this.io.on('connection', (socket) => this.onConnection(socket));
    // Reply events another instance streams: handed to this instance's viewers.
    this.io.on('reply:event', (event: ReplyEvent) => this.relayed.accept(event));
    this.ticker = setInterval(() => void this.tick(), deps.metricsIntervalMs ?? 1000);
    this.ticker.unref();
  }

  get clients(): number {
    return this.io.engine.clientsCount;
  }

  private count(event: string, direction: 'in' | 'out'): void {
    this.deps.metrics.socketEvents.inc({ event, direction });
  }

  private onConnection(socket: OrchestraSocket): void {
    const { metrics, logger } = this.deps;
    metrics.socketClients.set(this.clients);
    const log = logger.child({ socket: socket.id });

    socket.on('chat:send', async (payload, ack) => {
      this.count('chat:send', 'in');
      try {
        const message = (payload as { message?: unknown } | undefined)?.message;
        if (typeof message === 'string' && message.length > MAX_MESSAGE_CHARS) {
          throw new AppError(413, 'payload-too-large', `message must be at most ${MAX_MESSAGE_CHARS} characters`, { limit: MAX_MESSAGE_CHARS });
        }
        const input = parse(sendSchema, payload);
        const turn = await this.deps.chat().start(
          { conversationId: input.conversationId, message: input.message, model: input.model, cache: input.cache, parentId: input.parentId },
          // Joined before the first token is emitted, so the sender sees the whole reply. A
          // disconnect does not stop the reply: the sender can join again and catch up.
          { transport: 'socket', log, onStart: ({ conversationId }) => void socket.join(conversationRoom(conversationId)) },
        );
        reply(ack, { conversationId: turn.conversationId, messageId: turn.messageId });
      } catch (err) {
        fail(ack, err, log);
      }
    });

    socket.on('chat:cancel', (payload, ack) => {
      this.count('chat:cancel', 'in');
      try {
        const { messageId } = parse(cancelSchema, payload);
        reply(ack, { cancelled: this.deps.chat().cancel(messageId, 'cancel') });
      } catch (err) {
        fail(ack, err, log);
      }
    });

    socket.on('conversation:join', async (payload, ack) => {
      this.count('conversation:join', 'in');
      let conversationId: string | undefined;
      try {
        ({ conversationId } = parse(roomSchema, payload));
        await this.deps.conversations.require(conversationId);
        const buffer = this.holdFor(conversationId, socket.id);
        await socket.join(conversationRoom(conversationId));
        const snapshots = await this.deps.catchUp.conversation(conversationId, () => buffer);
        // From here to the end, synchronously: the ack, then what it does not cover, then live.
        reply(ack, { joined: conversationId, streaming: snapshots.map(({ messageId, seq, content }) => ({ messageId, seq, content })) });
        const covered = new Map(snapshots.map((s) => [s.messageId, s.seq]));
        for (const e of uncovered(buffer, covered)) this.emitTo(socket, e);
      } catch (err) {
        fail(ack, err, log);
      } finally {
        if (conversationId !== undefined) this.release(conversationId, socket.id);
      }
    });

    socket.on('conversation:leave', async (payload, ack) => {
      this.count('conversation:leave', 'in');
      try {
        const { conversationId } = parse(roomSchema, payload);
        await socket.leave(conversationRoom(conversationId));
        reply(ack, { left: conversationId });
      } catch (err) {
        fail(ack, err, log);
      }
    });

    socket.on('metrics:subscribe', async (ack) => {
      this.count('metrics:subscribe', 'in');
      await socket.join(METRICS_ROOM);
      reply(ack, { subscribed: true as const });
    });

    socket.on('metrics:unsubscribe', async (ack) => {
      this.count('metrics:unsubscribe', 'in');
      await socket.leave(METRICS_ROOM);
      reply(ack, { subscribed: false as const });
    });

    socket.on('disconnect', () => {
      metrics.socketClients.set(this.clients);
    });
  }

  private holdFor(conversationId: string, socketId: string): ReplyEvent[] {
    let held = this.catchingUp.get(conversationId);
    if (!held) {
      held = new Map();
      this.catchingUp.set(conversationId, held);
    }
    const buffer: ReplyEvent[] = [];
    held.set(socketId, buffer);
    return buffer;
  }

  private release(conversationId: string, socketId: string): void {
    const held = this.catchingUp.get(conversationId);
    held?.delete(socketId);
    if (held?.size === 0) this.catchingUp.delete(conversationId);
  }

  private emitTo(socket: OrchestraSocket, e: ReplyEvent): void {
    if (e.kind === 'token') socket.emit('chat:token', e.event);
    else if (e.kind === 'done') socket.emit('chat:done', e.event);
    else socket.emit('chat:error', e.event);
  }

  /** Hands a reply event to this instance's viewers: SSE followers and the conversation's room. */
  private deliver(e: ReplyEvent): void {
    this.deps.feed.publish(e);
    const room = conversationRoom(e.event.conversationId);
    const held = this.catchingUp.get(e.event.conversationId);
    if (held) for (const buffer of held.values()) buffer.push(e);
    const members = this.io.sockets.adapter.rooms.get(room)?.size ?? 0;
    // Socket.IO encodes a broadcast even for an empty room; per token that is worth skipping.
    if (members === 0) return;
    const target = held ? this.io.local.to(room).except([...held.keys()]) : this.io.local.to(room);
    if (e.kind === 'token') {
      target.emit('chat:token', e.event);
      this.tokensOut ??= this.deps.metrics.socketEvents.labels('chat:token', 'out');
      this.tokensOut.inc();
    } else if (e.kind === 'done') {
      target.emit('chat:done', e.event);
      this.count('chat:done', 'out');
    } else {
      target.emit('chat:error', e.event);
      this.count('chat:error', 'out');
    }
  }

  /** A reply event of this instance: to its own viewers, and to the other instances for theirs. */
  private send(e: ReplyEvent): void {
    this.deliver(e);
    if (this.clustered) this.io.serverSideEmit('reply:event', e);
  }

  private async tick(): Promise<void> {
    const room = this.io.sockets.adapter.rooms.get(METRICS_ROOM);
    if (!room || room.size === 0) return;
    try {
      const snapshot = await this.deps.snapshotter.snapshot();
      this.io.local.to(METRICS_ROOM).emit('metrics:tick', snapshot);
      this.count('metrics:tick', 'out');
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'metrics tick failed');
    }
  }

  /**
   * Set when an adapter fans events out to other instances: then a room that is empty here may
   * still have members elsewhere, so every event must be published.
   */
  clustered = false;
  private tokensOut: { inc(): void } | undefined;

  token: Broadcaster['token'] = (event) => this.send({ kind: 'token', event });

  done: Broadcaster['done'] = (event) => this.send({ kind: 'done', event });

  error: Broadcaster['error'] = (event) => this.send({ kind: 'error', event });

  messageCreated: Broadcaster['messageCreated'] = (event) => {
    this.io.to(conversationRoom(event.conversationId)).emit('message:created', event);
    this.count('message:created', 'out');
  };

  conversationUpdated: Broadcaster['conversationUpdated'] = (event) => {
    this.io.emit('conversation:updated', event);
    this.count('conversation:updated', 'out');
  };

  statusChanged: Broadcaster['statusChanged'] = (event) => {
    // A breaker belongs to this instance; clients of other instances are told by their own.
    this.io.local.emit('status:changed', event);
    this.count('status:changed', 'out');
  };

  async close(): Promise<void> {
    clearInterval(this.ticker);
    this.relayed.close();
    this.io.disconnectSockets(true);
    // io.close() would also close the HTTP server it is attached to; the server closes that itself.
    await new Promise<void>((resolve) => {
      this.io.engine.close();
      resolve();
    });
  }
}

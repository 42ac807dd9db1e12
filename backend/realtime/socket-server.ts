import type http from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Broadcaster } from '../chat/broadcaster.js';
import type { ChatService } from '../chat/service.js';
import type { ConversationService } from '../chat/conversations.js';
import { RelayRepair, uncovered, type ReplyCatchUp, type ReplyFeed } from '../chat/replies.js';
import type { TLSSocket } from 'node:tls';
import type { AccessService, Presented } from '../access/access-service.js';
import type { ChatLimits } from '../access/chat-limits.js';
import { presentedCredential } from '../http/access.js';
import type { Lockout } from '../access/lockout.js';
import type { MinuteWindows } from '../access/windows.js';
import type { Principal } from '../access/principal.js';
import { hostOf, isLoopback, type ClientAddress } from '../http/security.js';
import { refuseNul } from '../http/validation.js';
import type { Metrics } from '../metrics/metrics.js';
import type { MetricsSnapshotter } from '../metrics/snapshot.js';
import {
  MAX_MESSAGE_CHARS,
  chatRequestSchema,
  errorBody,
  type ReplyEvent,
  type Ack,
  type ClientToServerEvents,
  type InterServerEvents,
  type ServerToClientEvents,
} from '../contract/index.js';
import { DomainError, invalid } from '../errors.js';
import { METRICS_ROOM, conversationRoom } from './rooms.js';

/** What the server keeps on each socket; set by the handshake check before `connection`. */
export interface SocketData {
  remote: boolean;
  /** Who the handshake's credential speaks for. */
  principal: Principal;
}

export type OrchestraServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type OrchestraSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface RealtimeDeps {
  chat: () => ChatService;
  conversations: ConversationService;
  access: AccessService;
  lockout: Lockout;
  /** Shared with the HTTP rate limit: a remote address's requests and events count together. */
  rateWindows: MinuteWindows;
  rateLimitPerMinute: number;
  chatLimits: ChatLimits;
  /** Whether a browser Origin may connect (the server's own, or listed in CORS_ORIGINS). */
  originAllowed: (origin: string, hostHeader: string | undefined, encrypted: boolean) => boolean;
  allowedHosts: Set<string>;
  /** CORS_ORIGINS, read on every handshake (the settings API changes it live). */
  corsOrigins: () => readonly string[];
  logger: Logger;
  metrics: Metrics;
  snapshotter: MetricsSnapshotter;
  metricsIntervalMs?: number;
  /** The client address behind a trusted proxy (TRUST_PROXY); the socket peer otherwise. */
  clientAddress?: ClientAddress;
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

/** A handshake refusal as Socket.IO clients receive it: `connect_error` with `err.data`. */
function refusal(code: string, message: string, extra: Record<string, unknown> = {}): Error {
  const err = new Error(code) as Error & { data?: unknown };
  err.data = { code, message, ...extra };
  return err;
}

/** Room of every socket that presented one credential, so a revocation reaches them on any instance. */
const credentialRoom = (credentialId: string): string => `credential:${credentialId}`;

const sendSchema = chatRequestSchema.omit({ stream: true });
const roomSchema = z.strictObject({ conversationId: z.uuid('conversationId must be a conversation id') });
const cancelSchema = z.strictObject({ messageId: z.uuid('messageId must be a message id') });

function reply<T>(ack: Ack<T> | undefined, value: T): void {
  if (typeof ack === 'function') ack(value);
}

function fail(ack: Ack<never> | undefined, err: unknown, log: Logger): void {
  const known =
    err instanceof DomainError ? err : new DomainError('internal', 'internal-error', 'something went wrong on the server; the log has the details');
  if (!(err instanceof DomainError)) log.error({ err }, 'socket handler failed');
  if (typeof ack === 'function') ack(errorBody(known));
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  refuseNul(input, 'payload');
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'payload';
  throw invalid(`${field}: ${issue?.message ?? 'invalid'}`, { field });
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
      // A function, so the CORS headers follow the current list; allowRequest below is what refuses.
      cors: {
        origin: (origin: string | undefined, callback: (err: Error | null, allow?: boolean) => void) =>
          callback(null, origin !== undefined && deps.corsOrigins().includes(origin)),
        credentials: true,
      },
      maxHttpBufferSize: deps.maxPacketBytes ?? MAX_SOCKET_PACKET_BYTES,
      // Runs for every polling request and every WebSocket upgrade, before any Socket.IO state.
      allowRequest: (req, callback) => {
        const host = hostOf(req.headers.host);
        if (host === undefined || !deps.allowedHosts.has(host)) {
          callback('host-not-allowed', false);
          return;
        }
        const origin = req.headers.origin;
        if (origin !== undefined && !deps.originAllowed(origin, req.headers.host, (req.socket as Partial<TLSSocket>).encrypted === true)) {
          callback('origin-not-allowed', false);
          return;
        }
        callback(null, true);
      },
    });
    this.io.use((socket, next) => {
      // Nothing in here may throw: an exception in Socket.IO middleware takes the process down.
      try {
        this.authenticate(socket, next);
      } catch (err) {
        deps.logger.warn({ err: (err as Error).message }, 'socket handshake check failed');
        next(refusal('unauthorized', 'the handshake could not be checked'));
      }
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    // A revoked credential's sockets go at once, on this instance and (through the adapter) others.
    this.relayed = new RelayRepair((e) => this.deliver(e), (id) => deps.conversations.message(id), deps.logger);
    // Reply events another instance streams: handed to this instance's viewers.
    this.io.on('reply:event', (event: ReplyEvent) => this.relayed.accept(event));
    this.offRevoked = deps.access.onRevoked((credentialId) => this.io.in(credentialRoom(credentialId)).disconnectSockets(true));
    this.ticker = setInterval(() => void this.tick(), deps.metricsIntervalMs ?? 1000);
    this.ticker.unref();
  }

  private readonly offRevoked: () => void;

  /** The client's address: the socket peer, or the forwarded client behind a trusted proxy (TRUST_PROXY). */
  private addressOf(socket: OrchestraSocket): string {
    const { clientAddress } = this.deps;
    return (clientAddress ? clientAddress(socket.request) : undefined) ?? socket.handshake.address;
  }

  private authenticate(socket: OrchestraSocket, next: (err?: Error) => void): void {
    const { access, lockout } = this.deps;
    const address = this.addressOf(socket);
    try {
      lockout.check(address);
    } catch (err) {
      const e = err as DomainError;
      next(refusal(e.code, e.message, { retryAfterSeconds: (e.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds }));
      return;
    }
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const presented: Presented | undefined =
      typeof auth?.token === 'string' && auth.token !== '' ? { via: 'bearer', secret: auth.token } : presentedCredential(socket.handshake.headers);
    if (presented === undefined) {
      next(refusal('unauthorized', 'the Socket.IO handshake needs a credential (auth: { token }) or a paired browser'));
      return;
    }
    const finish = (principal: Principal | undefined): void => {
      if (principal === undefined) {
        lockout.fail(address);
        next(refusal('invalid-token', 'the credential is not valid (unknown, revoked or expired)'));
        return;
      }
      socket.data.principal = principal;
      socket.data.remote = !isLoopback(address);
      void socket.join(credentialRoom(principal.id));
      next();
    };
    const result = access.authenticate(presented, address);
    if (result instanceof Promise) {
      result.then(finish, (err: unknown) => {
        this.deps.logger.warn({ err: (err as Error).message }, 'credential lookup failed');
        next(refusal('unavailable', 'credentials could not be checked right now; retry shortly'));
      });
    } else finish(result);
  }

  /**
   * RATE_LIMIT_PER_MINUTE for socket events: a remote address's events count in the same window
   * as its HTTP requests. Over the limit, an event is dropped and its ack gets `rate-limited`.
   */
  private limitEvents(socket: OrchestraSocket): void {
    if (!socket.data.remote) return;
    const address = this.addressOf(socket);
    socket.use((packet, next) => {
      const { count, retryAfterSeconds } = this.deps.rateWindows.add(address);
      if (count <= this.deps.rateLimitPerMinute) {
        next();
        return;
      }
      const ack: unknown = packet[packet.length - 1];
      if (typeof ack === 'function') {
        (ack as (body: unknown) => void)(
          errorBody(new DomainError('too-many', 'rate-limited', `too many events; retry in ${retryAfterSeconds} s`, { retryAfterSeconds })),
        );
      }
    });
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
    this.limitEvents(socket);

    socket.on('chat:send', async (payload, ack) => {
      this.count('chat:send', 'in');
      let release: (() => void) | undefined;
      try {
        const message = (payload as { message?: unknown } | undefined)?.message;
        if (typeof message === 'string' && message.length > MAX_MESSAGE_CHARS) {
          throw new DomainError('too-large', 'payload-too-large', `message must be at most ${MAX_MESSAGE_CHARS} characters`, { limit: MAX_MESSAGE_CHARS });
        }
        const input = parse(sendSchema, payload);
        release = this.deps.chatLimits.acquire(socket.data.principal);
        const turn = await this.deps.chat().start(
          { conversationId: input.conversationId, message: input.message, model: input.model, cache: input.cache, parentId: input.parentId },
          // Joined before the first token is emitted, so the sender sees the whole reply. A
          // disconnect does not stop the reply: the sender can join again and catch up.
          { transport: 'socket', log, onStart: ({ conversationId }) => void socket.join(conversationRoom(conversationId)) },
        );
        turn.done.then(release, release);
        release = undefined;
        reply(ack, { conversationId: turn.conversationId, messageId: turn.messageId });
      } catch (err) {
        release?.();
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
    const room = conversationRoom(event.conversationId);
    // Socket.IO encodes a broadcast even for an empty room; two per turn are worth skipping.
    if (!this.clustered && (this.io.sockets.adapter.rooms.get(room)?.size ?? 0) === 0) return;
    this.io.to(room).emit('message:created', event);
    this.count('message:created', 'out');
  };

  conversationUpdated: Broadcaster['conversationUpdated'] = (event) => {
    // Two per turn, encoded even with nobody connected: skipped when no client is here to get it.
    if (!this.clustered && this.io.sockets.sockets.size === 0) return;
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
    this.offRevoked();
    this.io.disconnectSockets(true);
    // io.close() would also close the HTTP server it is attached to; the server closes that itself.
    await new Promise<void>((resolve) => {
      this.io.engine.close();
      resolve();
    });
  }
}

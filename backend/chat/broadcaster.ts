import type {
  ChatErrorEvent,
  ConversationUpdatedEvent,
  DoneEvent,
  MessageCreatedEvent,
  StatusChangedEvent,
  TokenEvent,
} from '../contract/events.js';

/**
 * What the chat service needs from the realtime layer: send to everyone watching a conversation,
 * or to everyone. Keeping it this small lets the service run (and be tested) without Socket.IO.
 */
export interface Broadcaster {
  token(event: TokenEvent): void;
  done(event: DoneEvent): void;
  error(event: ChatErrorEvent): void;
  messageCreated(event: MessageCreatedEvent): void;
  conversationUpdated(event: ConversationUpdatedEvent): void;
  statusChanged(event: StatusChangedEvent): void;
}

export const silentBroadcaster: Broadcaster = {
  token: () => {},
  done: () => {},
  error: () => {},
  messageCreated: () => {},
  conversationUpdated: () => {},
  statusChanged: () => {},
};

/**
 * Forwards to a broadcaster attached later. The chat service needs one at construction, but
 * Socket.IO can only be created once the HTTP server exists.
 */
export class DeferredBroadcaster implements Broadcaster {
  target: Broadcaster = silentBroadcaster;
  token: Broadcaster['token'] = (e) => this.target.token(e);
  done: Broadcaster['done'] = (e) => this.target.done(e);
  error: Broadcaster['error'] = (e) => this.target.error(e);
  messageCreated: Broadcaster['messageCreated'] = (e) => this.target.messageCreated(e);
  conversationUpdated: Broadcaster['conversationUpdated'] = (e) => this.target.conversationUpdated(e);
  statusChanged: Broadcaster['statusChanged'] = (e) => this.target.statusChanged(e);
}

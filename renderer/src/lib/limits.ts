/**
 * The server's limit on one chat message, in characters (MAX_MESSAGE_CHARS in
 * backend/http/routes/chat.ts, applied to Socket.IO `chat:send` too). Checked here as well, so an
 * oversized message is explained as it is typed instead of after a round trip.
 */
export const MAX_MESSAGE_CHARS = 100_000;

/** How often a streaming reply is drawn: tokens in between are applied and rendered together. */
export const STREAM_RENDER_MS = 50;

/**
 * How long a streaming reply may wait for a missing token (or for a join ack) before the window
 * asks the server for the reply's text so far again. Tokens come many times a second, so a gap
 * that lasts this long will not close by itself.
 */
export const STREAM_REPAIR_MS = 1_500;

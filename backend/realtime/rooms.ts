/** Socket.IO room names: one per conversation (its viewers), and one for metrics subscribers. */
export const conversationRoom = (conversationId: string): string => `conversation:${conversationId}`;
export const METRICS_ROOM = 'metrics';

/**
 * The wire contract: every shape that crosses HTTP or Socket.IO, in one module that imports
 * nothing else of the backend. Routes, realtime, the renderer (type-only) and the tests import it;
 * the services map their own records onto it.
 */
export * from './chat.js';
export * from './conversations.js';
export * from './errors.js';
export * from './events.js';
export * from './metrics.js';
export * from './settings.js';
export * from './status.js';
export * from './validation.js';

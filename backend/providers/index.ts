export type { ChatTurn, CompletionRequest, ModelProvider, StreamEvent } from './types.js';
export { ProviderError, isProviderFailure, isCancelled, type ProviderErrorCode, type ProviderErrorDetails } from './errors.js';
export { OpenAICompatibleProvider, type OpenAICompatibleOptions } from './openai-compatible.js';
export {
  createProviderRegistry,
  DEFAULT_PROBE_TARGETS,
  type ProviderBreakerOptions,
  type ProviderConfig,
  type ProviderHealth,
  type ProviderLogger,
  type ProviderRegistry,
  type ProviderRegistryOptions,
  type ProviderSource,
  type ProviderStatus,
} from './registry.js';
export { probeOpenAICompatible } from './probe.js';
export { parseProviderUrl, providerBreakerName, type ProviderUrl } from './provider-url.js';
export { SseParser, SseLineTooLongError, type SseHandler, type SseParserOptions } from './sse.js';

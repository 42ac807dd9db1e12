import type { ToolCall } from '../chat/tool-calls.js';
import type { ChatTurn } from '../providers/types.js';
import type { Usage } from './wire.js';

/**
 * An estimate for providers that report no token counts (some local servers): about four
 * characters per token for English text and code, plus OpenAI's few tokens of framing per
 * message. Clients use `usage` for budgets and displays, where a close figure beats none.
 */
const CHARS_PER_TOKEN = 4;
const TOKENS_PER_MESSAGE = 3;

export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / CHARS_PER_TOKEN);
}

export function usageOf(
  reported: { promptTokens: number; completionTokens: number } | undefined,
  prompt: ChatTurn[],
  content: string,
  toolCalls: ToolCall[],
): Usage {
  if (reported !== undefined) {
    return { prompt_tokens: reported.promptTokens, completion_tokens: reported.completionTokens, total_tokens: reported.promptTokens + reported.completionTokens };
  }
  let promptTokens = TOKENS_PER_MESSAGE;
  for (const turn of prompt) promptTokens += TOKENS_PER_MESSAGE + estimateTokens(turn.content);
  let completionTokens = estimateTokens(content);
  for (const call of toolCalls) completionTokens += estimateTokens(call.function.name) + estimateTokens(call.function.arguments);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

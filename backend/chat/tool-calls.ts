import type { ToolCallDelta } from '../providers/types.js';

/** A whole tool call, as OpenAI's non-streaming `message.tool_calls` carries it. */
export interface ToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
  [field: string]: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Joins streamed `tool_calls` deltas into whole calls: deltas with the same `index` belong to
 * one call; its id, type and name arrive once, its arguments in pieces. Fields a provider adds
 * beyond those are kept as they came.
 */
export function assembleToolCalls(deltas: ToolCallDelta[]): ToolCall[] {
  const calls = new Map<number, ToolCall>();
  for (const delta of deltas) {
    const index = typeof delta.index === 'number' ? delta.index : calls.size;
    let call = calls.get(index);
    if (call === undefined) {
      call = { id: '', type: 'function', function: { name: '', arguments: '' } };
      calls.set(index, call);
    }
    for (const [key, value] of Object.entries(delta)) {
      if (key === 'index') continue;
      if (key === 'function' && isRecord(value)) {
        if (typeof value.name === 'string') call.function.name += value.name;
        if (typeof value.arguments === 'string') call.function.arguments += value.arguments;
      } else if ((key === 'id' || key === 'type') && typeof value === 'string') {
        call[key] = value;
      } else {
        call[key] = value;
      }
    }
  }
  return [...calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
}

import type { Problem } from './contract.js';

/**
 * Turns the backend's kebab-case error codes into something a person can act on. The server's
 * own message is kept as the detail, since it often names the host or status that failed.
 */
export interface ProblemText {
  title: string;
  hint: string;
}

const TEXT: Record<string, ProblemText> = {
  'no-provider': {
    title: 'No model provider is configured',
    hint: 'Set LLM_BASE_URL, or start Ollama or LM Studio on this machine.',
  },
  'provider-unavailable': {
    title: 'The model provider is not reachable',
    hint: 'Check that the provider is running and that LLM_BASE_URL points to it.',
  },
  'provider-timeout': {
    title: 'The model provider took too long to answer',
    hint: 'The model may still be loading; try again in a moment.',
  },
  'provider-error': {
    title: 'The model provider returned an error',
    hint: 'Check the model name and the API key (LLM_MODEL, LLM_API_KEY).',
  },
  'provider-disconnected': {
    title: 'The model provider dropped the connection mid-reply',
    hint: 'The text received so far was kept. Try again.',
  },
  'provider-circuit-open': {
    title: 'Calls to the model provider are paused',
    hint: 'It failed several times in a row; Orchestra tries it again shortly.',
  },
  'shutting-down': { title: 'The server is shutting down', hint: 'Try again once it is back.' },
  'network-error': { title: 'Cannot reach the Orchestra server', hint: 'Check that `orchestra serve` (or the desktop app) is still running.' },
  'rate-limited': { title: 'Too many requests', hint: 'Wait a moment and try again.' },
  'invalid-request': { title: 'The message was not accepted', hint: '' },
  'not-found': { title: 'Not found', hint: 'It may have been deleted in another window.' },
  'payload-too-large': { title: 'The message is too large', hint: 'The server refused it for its size; shorten it and send again.' },
  'too-many-chats': { title: 'Too many replies are being generated', hint: 'Wait for one to finish and try again.' },
  'setting-locked': { title: 'That setting is fixed by the environment', hint: 'Change it where the server is started.' },
  'ack-timeout': { title: 'The server did not confirm the message', hint: 'Check the connection and try again.' },
};

export function describeProblem(problem: Problem): ProblemText {
  return TEXT[problem.code] ?? { title: 'Something went wrong', hint: '' };
}

export function isAuthProblem(code: string): boolean {
  return code === 'unauthorized' || code === 'invalid-token';
}

/** The base URLs the backend probed before answering `no-provider`, when it says. */
export function probedUrls(problem: Problem): string[] {
  const d = problem.details;
  if (typeof d !== 'object' || d === null || !('probed' in d)) return [];
  const probed = d.probed;
  return Array.isArray(probed) ? probed.filter((p): p is string => typeof p === 'string') : [];
}

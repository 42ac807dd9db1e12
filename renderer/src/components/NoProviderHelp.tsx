import type { Problem } from '../lib/contract.js';
import { probedUrls } from '../lib/problems.js';

/** What to do when chat answers `no-provider`: point Orchestra at a model server, or start one locally. */
export function NoProviderHelp({
  problem,
  onOpenSettings,
  testId = 'no-provider-help',
}: {
  problem: Problem;
  onOpenSettings?: (() => void) | undefined;
  testId?: string;
}) {
  const probed = probedUrls(problem);
  return (
    <div className="notice notice-warn no-provider" data-testid={testId} role="alert">
      <h2 className="notice-title">No model provider is configured</h2>
      <p>
        Orchestra needs an OpenAI-compatible model server to answer.{' '}
        {probed.length > 0 ? (
          <>
            It looked for one at <code>{probed.join(', ')}</code> and found none.
          </>
        ) : (
          <>It looked for Ollama and LM Studio on this machine and found neither.</>
        )}{' '}
        Any one of these fixes it:
      </p>
      <ol>
        <li>
          <strong>Point it at a provider:</strong> set <code>LLM_BASE_URL</code> (for example <code>https://api.openai.com/v1</code> with{' '}
          <code>LLM_API_KEY</code>, or <code>http://127.0.0.1:11434/v1</code>) and optionally <code>LLM_MODEL</code>, then restart{' '}
          <code>orchestra serve</code>
          {onOpenSettings ? ' — or enter them in Settings' : ''}.
        </li>
        <li>
          <strong>Start Ollama:</strong> <code>ollama serve</code> and <code>ollama pull llama3.2</code> (listens on port 11434).
        </li>
        <li>
          <strong>Start LM Studio:</strong> load a model and start its local server (port 1234).
        </li>
      </ol>
      <p className="muted">Local servers are found automatically within a few seconds; just send your message again.</p>
      {onOpenSettings ? (
        <button type="button" className="button" onClick={onOpenSettings}>
          Open Settings
        </button>
      ) : null}
      <p className="problem-detail">
        <code>{problem.code}</code> {problem.message}
      </p>
    </div>
  );
}

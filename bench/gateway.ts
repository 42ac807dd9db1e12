import { startProvider, timeStream } from './chat-stream.js';
import { line, median, startOrchestra } from './lib.js';

/**
 * The OpenAI-compatible gateway against the fake provider in its own process, read the same way
 * (an OpenAI stream) both times:
 * - time to the first content token through POST /v1/chat/completions (stored conversation,
 *   validation, metrics) vs reading the provider directly; target: under 5 ms more (p50);
 * - tokens per second of a 3,000-token reply through the gateway vs directly; target >= 0.8x.
 */
export async function gatewayBench(): Promise<void> {
  const provider = await startProvider(['--tokens', '3000', '--interval', '0']);
  const short = await startProvider(['--tokens', '5', '--interval', '0']);
  const orchestra = await startOrchestra({ LLM_BASE_URL: short.url });
  const streaming = await startOrchestra({ LLM_BASE_URL: provider.url });
  try {
    const completion = { model: 'fake-model', stream: true, messages: [{ role: 'user', content: 'hi' }] };
    const auth = (o: { token: string }) => ({ authorization: `Bearer ${o.token}` });
    // The first real token, in both streams (the role chunk before it carries "content":"").
    const firstToken = '"content":"tok';

    const direct: number[] = [];
    const through: number[] = [];
    for (let i = 0; i < 220; i++) {
      const d = await timeStream(`${short.url}/chat/completions`, completion, {}, firstToken);
      const o = await timeStream(`${orchestra.url}/v1/chat/completions`, completion, auth(orchestra), firstToken);
      if (i >= 20) {
        direct.push(d.firstMs);
        through.push(o.firstMs);
      }
    }
    const added = median(through) - median(direct);
    line(
      'gateway /v1 time to first token, p50',
      `${median(through).toFixed(2)} ms vs provider ${median(direct).toFixed(2)} ms`,
      `+${added.toFixed(2)} ms (target < 5 ms) ${added < 5 ? 'PASS' : 'MISS'}`,
    );

    const directRates: number[] = [];
    const throughRates: number[] = [];
    for (let i = 0; i < 22; i++) {
      const d = await timeStream(`${provider.url}/chat/completions`, completion, {}, firstToken);
      const o = await timeStream(`${streaming.url}/v1/chat/completions`, completion, auth(streaming), firstToken);
      if (i >= 2) {
        directRates.push(3000 / (d.totalMs / 1000));
        throughRates.push(3000 / (o.totalMs / 1000));
      }
    }
    const ratio = median(throughRates) / median(directRates);
    line(
      'gateway /v1 streaming 3,000 tokens, tokens/s',
      `${median(throughRates).toFixed(0)} vs provider ${median(directRates).toFixed(0)}`,
      `${ratio.toFixed(2)}x (target >= 0.80x) ${ratio >= 0.8 ? 'PASS' : 'MISS'}`,
    );
  } finally {
    await orchestra.stop();
    await streaming.stop();
    provider.child.kill();
    short.child.kill();
  }
}

import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * The gateway's own series, labelled by the credential's name (the owner, or a named token):
 * who uses the OpenAI endpoint, how much, and how fast. Names are few (one per token an admin
 * made), so the label stays small.
 */
export interface GatewayMetrics {
  requests: Counter<'credential' | 'outcome' | 'stream'>;
  tokens: Counter<'credential' | 'kind'>;
  ttft: Histogram<'credential'>;
}

export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const registers = [registry];
  const existing = registry.getSingleMetric('orchestra_gateway_requests_total');
  if (existing !== undefined) {
    return {
      requests: existing as Counter<'credential' | 'outcome' | 'stream'>,
      tokens: registry.getSingleMetric('orchestra_gateway_tokens_total') as Counter<'credential' | 'kind'>,
      ttft: registry.getSingleMetric('orchestra_gateway_time_to_first_token_seconds') as Histogram<'credential'>,
    };
  }
  return {
    requests: new Counter({
      name: 'orchestra_gateway_requests_total',
      help: 'OpenAI-compatible chat completions by credential, outcome and streaming',
      labelNames: ['credential', 'outcome', 'stream'],
      registers,
    }),
    tokens: new Counter({
      name: 'orchestra_gateway_tokens_total',
      help: 'Tokens of OpenAI-compatible chat completions by credential and kind (prompt or completion)',
      labelNames: ['credential', 'kind'],
      registers,
    }),
    ttft: new Histogram({
      name: 'orchestra_gateway_time_to_first_token_seconds',
      help: 'Time from accepting an OpenAI-compatible completion to its first streamed chunk, by credential',
      labelNames: ['credential'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
  };
}

import path from 'node:path';
import { readdirSync } from 'node:fs';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { boundaries, LAYERS } from '../../../tools/lint/boundaries.js';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const RULE = 'import-x/no-restricted-paths';

/** The boundary zones alone, with a parser but no type information: fast, and the same object the real config spreads in. */
function boundaryLinter(): ESLint {
  return new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [{ files: ['**/*.{ts,tsx}'], languageOptions: { parser: tseslint.parser } }, boundaries],
  });
}

async function violations(eslint: ESLint, filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, filePath) });
  return (result?.messages ?? []).filter((m) => m.ruleId === RULE).map((m) => m.message);
}

/** One deliberate violation per rule; each names an existing module so the import resolves. */
const VIOLATIONS: Array<{ rule: string; filePath: string; code: string }> = [
  {
    rule: 'a service imports the HTTP layer (type-only)',
    filePath: 'backend/chat/boundary-probe.ts',
    code: "import type { AppError } from '../http/errors.js';\nexport type Probe = AppError;\n",
  },
  {
    rule: 'a provider imports realtime',
    filePath: 'backend/providers/boundary-probe.ts',
    code: "import { conversationRoom } from '../realtime/rooms.js';\nexport const probe = conversationRoom('x');\n",
  },
  {
    rule: 'a service re-exports from a transport',
    filePath: 'backend/status/boundary-probe.ts',
    code: "export type { AppDeps } from '../http/app.js';\n",
  },
  {
    rule: 'storage imports the metrics service (type-only)',
    filePath: 'backend/data/boundary-probe.ts',
    code: "import type { Metrics } from '../metrics/metrics.js';\nexport type Probe = Metrics;\n",
  },
  {
    rule: 'storage imports a provider',
    filePath: 'backend/cache/boundary-probe.ts',
    code: "import { ProviderError } from '../providers/errors.js';\nexport const probe = ProviderError;\n",
  },
  {
    rule: 'storage imports a transport',
    filePath: 'backend/redis/boundary-probe.ts',
    code: "import type { Realtime } from '../realtime/socket-server.js';\nexport type Probe = Realtime;\n",
  },
  {
    rule: 'storage imports a service dynamically',
    filePath: 'backend/data/boundary-probe.ts',
    code: "export const probe = () => import('../chat/service.js');\n",
  },
  {
    rule: 'the renderer imports the data layer (type-only)',
    filePath: 'renderer/src/lib/boundary-probe.ts',
    code: "import type { Message } from '../../../backend/data/store.js';\nexport type Probe = Message;\n",
  },
  {
    rule: 'the renderer imports a backend service',
    filePath: 'renderer/src/components/BoundaryProbe.tsx',
    code: "import type { ChatService } from '../../../backend/chat/service.js';\nexport type Probe = ChatService;\n",
  },
  {
    rule: 'the contract imports the store (type-only)',
    filePath: 'backend/contract/boundary-probe.ts',
    code: "import type { Store } from '../data/store.js';\nexport type Probe = Store;\n",
  },
  {
    rule: 'the contract imports the domain errors',
    filePath: 'backend/contract/boundary-probe.ts',
    code: "import { DomainError } from '../errors.js';\nexport const probe = DomainError;\n",
  },
  {
    rule: 'the backend imports the Electron main process (type-only)',
    filePath: 'backend/http/boundary-probe.ts',
    code: "import type { BackendOverrides } from '../../main/backend-protocol.js';\nexport type Probe = BackendOverrides;\n",
  },
  {
    rule: 'the backend imports the preload bridge',
    filePath: 'backend/boundary-probe.ts',
    code: "export type * from '../preload/api.js';\n",
  },
  {
    rule: 'a foundation module imports storage',
    filePath: 'backend/config/boundary-probe.ts',
    code: "import type { Store } from '../data/store.js';\nexport type Probe = Store;\n",
  },
  {
    rule: 'a service imports the composition root',
    filePath: 'backend/chat/boundary-probe.ts',
    code: "import { startServer } from '../server.js';\nexport const probe = startServer;\n",
  },
];

/** Imports the layers allow, so the zones are not simply refusing everything. */
const ALLOWED: Array<{ what: string; filePath: string; code: string }> = [
  {
    what: 'the renderer reads the contract',
    filePath: 'renderer/src/lib/boundary-probe.ts',
    code: "import type { Message } from '../../../backend/contract/index.js';\nexport type Probe = Message;\n",
  },
  {
    what: 'a service uses the store, the contract and the domain errors',
    filePath: 'backend/chat/boundary-probe.ts',
    code: "import type { Store } from '../data/store.js';\nimport type { Message } from '../contract/index.js';\nimport { DomainError } from '../errors.js';\nexport type Probe = [Store, Message, DomainError];\n",
  },
  {
    what: 'a transport uses a service',
    filePath: 'backend/http/boundary-probe.ts',
    code: "import type { ChatService } from '../chat/service.js';\nexport type Probe = ChatService;\n",
  },
  {
    what: 'storage uses the breaker and the cache its own observer',
    filePath: 'backend/cache/boundary-probe.ts',
    code: "import type { Breaker } from '../breaker/breaker.js';\nimport type { CacheObserver } from './observer.js';\nexport type Probe = [Breaker, CacheObserver];\n",
  },
];

describe('import boundaries', () => {
  let eslint: ESLint;
  beforeAll(() => {
    eslint = boundaryLinter();
  });

  it.each(VIOLATIONS)('reports $rule', async ({ filePath, code }) => {
    const found = await violations(eslint, filePath, code);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/restricted zone/);
  });

  it.each(ALLOWED)('allows $what', async ({ filePath, code }) => {
    expect(await violations(eslint, filePath, code)).toEqual([]);
  });

  it('passes on the real tree, backend and renderer', async () => {
    const results = await eslint.lintFiles(['backend/**/*.ts', 'renderer/src/**/*.{ts,tsx}']);
    expect(results.length).toBeGreaterThan(100);
    const broken = results.flatMap((r) => r.messages.filter((m) => m.ruleId === RULE || m.fatal === true).map((m) => `${path.relative(root, r.filePath)}: ${m.message}`));
    expect(broken).toEqual([]);
    // Linting the whole tree takes a while on a busy machine.
  });

  it('is part of the lint that `npm run lint` runs, for every layer', async () => {
    const real = new ESLint({ cwd: root });
    const samples = ['backend/chat/service.ts', 'backend/data/store.ts', 'backend/contract/index.ts', 'backend/server.ts', 'renderer/src/App.tsx'];
    for (const file of samples) {
      const config = (await real.calculateConfigForFile(path.join(root, file))) as Linter.Config;
      const setting = config.rules?.[RULE];
      expect(Array.isArray(setting) ? setting[0] : setting, file).toBe(2);
    }
    // Every top-level backend folder belongs to a layer, so a new concern cannot slip past the zones.
    const placed = new Set(Object.values(LAYERS).flat());
    const entries = readdirSync(path.join(root, 'backend'), { withFileTypes: true }).map((e) => `backend/${e.name}`);
    expect(entries.filter((e) => !placed.has(e))).toEqual([]);
  });
});

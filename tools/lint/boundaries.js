// The layers of the code base and the import rule that holds them (docs/architecture.md).
// eslint.config.js spreads `boundaries` into the lint config; test/unit/lint/boundaries.test.ts
// proves each zone reports a deliberate violation. Type-only imports count like any other.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Folders (and files) of each layer, relative to the repository root. */
export const LAYERS = {
  /** Composition roots: wire everything, may import anything in backend/. */
  entry: ['backend/server.ts', 'backend/cli'],
  /** Turn requests and events into service calls, and results into the wire. */
  transports: ['backend/http', 'backend/realtime', 'backend/gateway'],
  services: ['backend/chat', 'backend/governance', 'backend/status', 'backend/settings', 'backend/access', 'backend/metrics'],
  providers: ['backend/providers'],
  storage: ['backend/data', 'backend/cache', 'backend/redis'],
  /** Used by every layer above; imports none of them. */
  foundation: ['backend/config', 'backend/breaker', 'backend/logging', 'backend/paths.ts', 'backend/errors.ts', 'backend/private-files.ts'],
  /** The wire: imports nothing else of the backend. */
  contract: ['backend/contract'],
  desktop: ['main', 'preload'],
  renderer: ['renderer'],
};

const L = LAYERS;

/** One zone per rule: files in `target` may not import files in `from` (except `except`). */
export const ZONES = [
  {
    target: [...L.services, ...L.providers],
    from: L.transports,
    message: 'Services and providers never import a transport (http/, realtime/, gateway/): throw a DomainError from backend/errors.ts and take wire shapes from backend/contract/.',
  },
  {
    target: L.storage,
    from: [...L.services, ...L.providers, ...L.transports, ...L.entry],
    message: 'Storage (data/, cache/, redis/) never imports services, providers or transports: take what it needs through an interface it owns (e.g. its observer).',
  },
  {
    target: L.foundation,
    from: [...L.services, ...L.providers, ...L.storage, ...L.transports, ...L.entry],
    message: 'config/, breaker/, logging/, paths.ts and errors.ts sit below every concern and import none of them.',
  },
  {
    target: L.contract,
    from: ['backend'],
    except: ['./contract'],
    message: 'backend/contract/ is the wire alone: it imports nothing else of the backend.',
  },
  {
    target: [...L.transports, ...L.services, ...L.providers, ...L.storage, ...L.foundation, ...L.contract],
    from: L.entry,
    message: 'Only the composition roots (server.ts, cli/) import server.ts and cli/.',
  },
  {
    target: L.renderer,
    from: ['backend'],
    except: ['./contract'],
    message: 'The renderer imports only backend/contract/ (type-only) from the backend.',
  },
  {
    target: ['backend'],
    from: L.desktop,
    message: 'The backend never imports the desktop shell (main/, preload/).',
  },
];

export const boundaries = {
  name: 'orchestra/boundaries',
  files: ['backend/**/*.ts', 'renderer/**/*.{ts,tsx}'],
  plugins: { 'import-x': importX },
  settings: {
    // Sources import `./x.js` for `./x.ts`; without the alias nothing would resolve and the rule
    // would have nothing to check.
    'import-x/resolver-next': [
      createNodeResolver({ extensions: ['.ts', '.tsx', '.js', '.mjs', '.json'], extensionAlias: { '.js': ['.ts', '.tsx', '.js'] } }),
    ],
  },
  rules: {
    'import-x/no-restricted-paths': ['error', { basePath: root, zones: ZONES }],
  },
};

/**
 * Dependencies: every import of a third-party package must be declared in the nearest manifest.
 * AI-written code often imports packages the project does not have (or that do not exist at
 * all), and that only shows up at run time. Imports are read from the syntax tree, so strings
 * and comments that merely mention a package do not count; imports guarded by try/except are
 * treated as optional and skipped. Without a manifest the engine stays silent.
 */
import { builtinModules } from 'node:module';
import type { NapiConfig } from '@ast-grep/napi';
import type { SgNode } from '../ast-grep.js';
import type { AnalyzedFile } from '../analyzed-file.js';
import type { DependenciesOptions } from '../config-schema.js';
import type { RuleDescriptor } from '../types.js';
import { spanFromRange, type Engine, type Report } from './engine.js';
import { normalizePythonName, type GoManifest, type NpmManifest, type PythonManifest } from './manifests.js';
import { PYTHON_STDLIB } from './python-stdlib.js';

export const DEPENDENCY_RULES: RuleDescriptor[] = [
  {
    id: 'missing-dependency',
    engine: 'dependencies',
    severity: 'error',
    shortDescription: 'Import of a package that the manifest does not declare.',
    languages: ['javascript', 'typescript', 'tsx', 'python', 'go'],
    fullDescription: 'The import resolves only by accident (a hoisted transitive dependency) or fails at run time.',
    help: 'Declare the package in the manifest (npm install <pkg>, add it to requirements.txt / pyproject.toml, go get <module>) or remove the import.',
  },
];

const NODE_BUILTINS = new Set(builtinModules.map((m) => m.replace(/^node:/, '')));

/** Import names whose distribution is called something else. */
const PYTHON_DISTRIBUTIONS: Record<string, string[]> = {
  PIL: ['pillow'],
  cv2: ['opencv-python', 'opencv-python-headless', 'opencv-contrib-python', 'opencv-contrib-python-headless'],
  sklearn: ['scikit-learn'],
  skimage: ['scikit-image'],
  bs4: ['beautifulsoup4'],
  Crypto: ['pycryptodome', 'pycrypto'],
  Cryptodome: ['pycryptodomex'],
  OpenSSL: ['pyopenssl'],
  MySQLdb: ['mysqlclient'],
  psycopg2: ['psycopg2-binary'],
  attr: ['attrs'],
  git: ['gitpython'],
  docx: ['python-docx'],
  pptx: ['python-pptx'],
  fitz: ['pymupdf'],
  google: ['protobuf', 'google-api-python-client', 'google-auth', 'google-cloud-storage', 'google-generativeai', 'google-genai'],
  grpc: ['grpcio'],
  win32api: ['pywin32'],
  win32con: ['pywin32'],
  jwt: ['pyjwt'],
  dateutil: ['python-dateutil'],
  mpl_toolkits: ['matplotlib'],
  pkg_resources: ['setuptools'],
  _pytest: ['pytest'],
  faiss: ['faiss-cpu', 'faiss-gpu'],
  telegram: ['python-telegram-bot'],
  discord: ['discord-py'],
  slugify: ['python-slugify'],
  multipart: ['python-multipart'],
  nacl: ['pynacl'],
  websocket: ['websocket-client'],
  yaml: ['pyyaml'],
  dotenv: ['python-dotenv'],
  magic: ['python-magic'],
  jose: ['python-jose'],
  serial: ['pyserial'],
  zmq: ['pyzmq'],
  usb: ['pyusb'],
  ldap: ['python-ldap'],
  Levenshtein: ['python-levenshtein', 'levenshtein'],
  sentence_transformers: ['sentence-transformers'],
};

interface ImportRef {
  spec: string;
  node: SgNode;
  typeOnly: boolean;
}

export class DependenciesEngine implements Engine {
  readonly id = 'dependencies' as const;
  private readonly allow: Set<string>;

  constructor(private readonly options: DependenciesOptions) {
    this.allow = new Set(options.allow);
  }

  supports(file: AnalyzedFile): boolean {
    const manifest = file.manifest;
    if (!manifest) return false;
    if (manifest.kind === 'python') return this.options.python;
    if (manifest.kind === 'go') return this.options.go;
    return true;
  }

  run(file: AnalyzedFile, report: Report): void {
    const root = file.ast()?.root();
    const manifest = file.manifest;
    if (!root || !manifest) return;
    const missing =
      manifest.kind === 'npm'
        ? this.missingNpm(root, manifest)
        : manifest.kind === 'python'
          ? this.missingPython(root, manifest)
          : this.missingGo(root, manifest);
    for (const { ref, name, install } of missing) {
      report('missing-dependency', spanFromRange(ref.node.range()), {
        message: `"${name}" is imported but not declared in ${manifest.file}. Add it (${install}) or remove the import.`,
      });
    }
  }

  private missingNpm(root: SgNode, manifest: NpmManifest): Array<{ ref: ImportRef; name: string; install: string }> {
    const out: Array<{ ref: ImportRef; name: string; install: string }> = [];
    for (const ref of jsImports(root)) {
      const name = npmPackageName(ref.spec);
      if (!name || this.allow.has(name) || name === manifest.name || manifest.packages.has(name)) continue;
      if (ref.typeOnly && manifest.packages.has(typesPackage(name))) continue;
      // `src/…` or `components/…` through a tsconfig baseUrl/paths alias.
      if (manifest.localNames.has(name)) continue;
      out.push({ ref, name, install: `npm install ${name}` });
    }
    return out;
  }

  private missingPython(root: SgNode, manifest: PythonManifest): Array<{ ref: ImportRef; name: string; install: string }> {
    const out: Array<{ ref: ImportRef; name: string; install: string }> = [];
    for (const ref of pythonImports(root)) {
      const top = ref.spec.split('.')[0] ?? ref.spec;
      if (PYTHON_STDLIB.has(top) || this.allow.has(top) || manifest.localNames.has(top)) continue;
      if (manifest.name !== undefined && normalizePythonName(top) === manifest.name) continue;
      if (pythonCandidates(ref.spec).some((c) => manifest.packages.has(c))) continue;
      out.push({ ref, name: top, install: `pip install ${PYTHON_DISTRIBUTIONS[top]?.[0] ?? top} and list it in ${manifest.file}` });
    }
    return out;
  }

  private missingGo(root: SgNode, manifest: GoManifest): Array<{ ref: ImportRef; name: string; install: string }> {
    const out: Array<{ ref: ImportRef; name: string; install: string }> = [];
    for (const ref of goImports(root)) {
      const first = ref.spec.split('/')[0] ?? '';
      // The standard library's import paths have no dot in their first element.
      if (!first.includes('.') || this.allow.has(ref.spec)) continue;
      const within = (mod: string): boolean => ref.spec === mod || ref.spec.startsWith(`${mod}/`);
      if (within(manifest.module) || manifest.requires.some(within)) continue;
      out.push({ ref, name: ref.spec, install: `go get ${ref.spec}` });
    }
    return out;
  }
}

// `all` is evaluated in order: the cheap parent checks first, the walk up to a try block last.
// `try { require('optional') } catch {}` / `try: import x` is the idiom for optional dependencies.
const NOT_IN_TRY = { not: { inside: { kind: 'try_statement', stopBy: 'end' } } } as const;

const JS_IMPORT_RULE = {
  rule: {
    kind: 'string',
    all: [
      {
        any: [
          { inside: { kind: 'import_statement', field: 'source' } },
          { inside: { kind: 'export_statement', field: 'source' } },
          { inside: { kind: 'arguments', inside: { kind: 'call_expression', has: { field: 'function', regex: '^(require|import)$' } } } },
        ],
      },
      NOT_IN_TRY,
    ],
  },
} satisfies NapiConfig;

const PYTHON_IMPORT_RULE = {
  rule: {
    kind: 'dotted_name',
    all: [
      {
        any: [
          { inside: { kind: 'import_statement' } },
          { inside: { kind: 'aliased_import', field: 'name', inside: { kind: 'import_statement' } } },
          { inside: { kind: 'import_from_statement', field: 'module_name' } },
        ],
      },
      NOT_IN_TRY,
    ],
  },
} satisfies NapiConfig;

/** `import … from 'x'`, `export … from 'x'`, `import 'x'`, `require('x')`, `import('x')`. */
function jsImports(root: SgNode): ImportRef[] {
  const refs: ImportRef[] = [];
  const strings = root.findAll(JS_IMPORT_RULE);
  for (const node of strings) {
    const parent = node.parent();
    const typeOnly = parent?.kind() === 'import_statement' && /^import\s+type\b/.test(parent.text());
    refs.push({ spec: node.text().slice(1, -1), node, typeOnly });
  }
  return refs;
}

/** `import a.b`, `import a.b as c`, `from a.b import c` (relative imports are local). */
function pythonImports(root: SgNode): ImportRef[] {
  const refs: ImportRef[] = [];
  const nodes = root.findAll(PYTHON_IMPORT_RULE);
  for (const node of nodes) refs.push({ spec: node.text().replace(/\s+/g, ''), node, typeOnly: false });
  return refs;
}

function goImports(root: SgNode): ImportRef[] {
  return root
    .findAll({ rule: { kind: 'interpreted_string_literal', inside: { kind: 'import_spec', field: 'path' } } })
    .map((node) => ({ spec: node.text().slice(1, -1), node, typeOnly: false }));
}

/** The package an import specifier loads, or undefined for relative, builtin and URL imports. */
export function npmPackageName(spec: string): string | undefined {
  if (!spec || spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('#') || spec.startsWith('~')) return undefined;
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec)) return undefined; // node:, bun:, https:, virtual:…
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? (parts.length >= 2 && parts[0] !== '@' ? `${parts[0]}/${parts[1]}` : undefined) : parts[0];
  if (!name || name.startsWith('@/')) return undefined;
  if (NODE_BUILTINS.has(name) || NODE_BUILTINS.has(spec)) return undefined;
  return name;
}

function typesPackage(name: string): string {
  return name.startsWith('@') ? `@types/${name.slice(1).replace('/', '__')}` : `@types/${name}`;
}

/** Distribution names that could provide `import a.b.c`. */
function pythonCandidates(spec: string): string[] {
  const parts = spec.split('.');
  const top = parts[0] ?? spec;
  const out: string[] = [];
  // google.cloud.storage → google-cloud-storage, google-cloud, google
  for (let n = parts.length; n >= 1; n--) out.push(normalizePythonName(parts.slice(0, n).join('-')));
  const base = normalizePythonName(top);
  out.push(`python-${base}`, `py${base}`, `${base}-python`, `${base}py`);
  for (const dist of PYTHON_DISTRIBUTIONS[top] ?? []) out.push(normalizePythonName(dist));
  return out;
}

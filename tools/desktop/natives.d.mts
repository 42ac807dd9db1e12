// Types for natives.mjs, so TypeScript tests can call it.
export interface RebuildOptions {
  buildPath: string;
  electronVersion: string;
  arch: string;
  onlyModules: string[];
  force: boolean;
  mode: 'sequential' | 'parallel';
}

export function rebuildNatives(options: {
  root: string;
  appDir: string;
  electronVersion: string;
  arch?: string;
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
  rebuild?: (options: RebuildOptions) => Promise<void>;
}): Promise<{ rebuilt: boolean }>;

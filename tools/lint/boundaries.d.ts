import type { Linter } from 'eslint';

/** Folders (and files) of each layer, relative to the repository root. */
export declare const LAYERS: Record<'entry' | 'transports' | 'services' | 'providers' | 'storage' | 'foundation' | 'contract' | 'desktop' | 'renderer', string[]>;
/** One zone per rule: files in `target` may not import files in `from` (except `except`). */
export declare const ZONES: Array<{ target: string[]; from: string[]; except?: string[]; message: string }>;
export declare const boundaries: Linter.Config;

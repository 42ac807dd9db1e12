/**
 * Per-file validation results, keyed by sha256(config hash, language, manifest digest, content).
 * The default store is an in-process LRU; callers can pass a shared one (the app's two-tier
 * cache) through the same two-method interface.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { ValidationCache, ValidationReport } from './types.js';

export function memoryValidationCache(max = 2000): ValidationCache {
  const lru = new LRUCache<string, ValidationReport>({ max });
  return {
    get: (key) => Promise.resolve(lru.get(key)),
    set: (key, value) => {
      lru.set(key, value);
      return Promise.resolve();
    },
  };
}

export function validationCacheKey(parts: { configHash: string; language: string; content: string; manifestDigest?: string }): string {
  return createHash('sha256')
    .update(parts.configHash)
    .update('\0')
    .update(parts.language)
    .update('\0')
    .update(parts.manifestDigest ?? '-')
    .update('\0')
    .update(parts.content)
    .digest('hex');
}

import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makePrivateDir } from '../private-files.js';

/** Where the generated owner token lives; `orchestra pair` and `orchestra breaker` read it there. */
export const ownerTokenFile = (dataDir: string): string => path.join(dataDir, 'api-token');

/**
 * The owner token: API_TOKEN when set, else generated once and kept in DATA_DIR/api-token with
 * mode 0600, so a restart keeps scripts working. To rotate it, delete the file (or change
 * API_TOKEN) and restart; browser sessions and named tokens are separate credentials and stay.
 */
export function resolveToken(configured: string | undefined, dataDir: string): string {
  if (configured !== undefined) return configured;
  const file = ownerTokenFile(dataDir);
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 16) {
      // A token file written by an older version (or copied in) may be readable by others.
      chmodSync(file, 0o600);
      return existing;
    }
  } catch {
    // first start: generate below
  }
  makePrivateDir(dataDir);
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { restrictIfPresent } from '../private-files.js';

/**
 * Encryption at rest for stored settings that carry secrets: AES-256-GCM under a random key kept
 * in DATA_DIR/settings.key (mode 0600), so the settings database alone reveals nothing. The key is
 * made on the first secret stored; back it up with the data directory, since without it stored
 * secrets cannot be read (they are then treated as unset, never guessed).
 */
export const settingsKeyPath = (dataDir: string): string => path.join(dataDir, 'settings.key');

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

function readKey(file: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SecretBoxError(`${file} cannot be read: ${(err as Error).message}`);
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES) throw new SecretBoxError(`${file} does not hold a ${KEY_BYTES}-byte key`);
  return key;
}

export class SecretBox {
  private key: Buffer | undefined;

  constructor(private readonly file: string) {}

  static forDataDir(dataDir: string): SecretBox {
    return new SecretBox(settingsKeyPath(dataDir));
  }

  /** Encrypts `plain`, bound to `name` (a row cannot be moved to another setting), making the key if there is none yet. */
  seal(name: string, plain: string): string {
    const key = this.loadKey(true);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  /** Decrypts what `seal(name, …)` made; throws SecretBoxError when the key is missing or wrong. */
  open(name: string, sealed: string): string {
    const key = this.loadKey(false);
    const [version, payload] = sealed.split(':', 2);
    if (version !== VERSION || payload === undefined) throw new SecretBoxError(`stored ${name} is not in a known encrypted format`);
    const raw = Buffer.from(payload, 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError(`stored ${name} is truncated`);
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(name, 'utf8'));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError(`stored ${name} cannot be decrypted with ${this.file} (a different or damaged key)`);
    }
  }

  private loadKey(create: boolean): Buffer {
    if (this.key) return this.key;
    let key = readKey(this.file);
    if (key === undefined) {
      if (!create) throw new SecretBoxError(`${this.file} is missing, so stored secrets cannot be decrypted`);
      key = randomBytes(KEY_BYTES);
      try {
        // 'wx': never overwrite a key another process made meanwhile; the mode is fixed again
        // below, whatever the umask did.
        writeFileSync(this.file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        key = readKey(this.file);
        if (key === undefined) throw new SecretBoxError(`${this.file} vanished while being created`);
      }
    }
    restrictIfPresent(this.file);
    this.key = key;
    return key;
  }
}

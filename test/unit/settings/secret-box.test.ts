import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError, settingsKeyPath } from '../../../backend/settings/secret-box.js';

const dirs: string[] = [];
const dir = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'orchestra-box-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const failure = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
};

describe('SecretBox (AES-256-GCM, key in DATA_DIR/settings.key)', () => {
  it('makes a 0600 key on the first seal and opens what it sealed; each seal is different', () => {
    const d = dir();
    const box = SecretBox.forDataDir(d);
    const a = box.seal('llmApiKey', '"sk-plain-text"');
    const b = box.seal('llmApiKey', '"sk-plain-text"');
    expect(a).not.toBe(b);
    expect(a).not.toContain('sk-plain-text');
    expect(a.startsWith('v1:')).toBe(true);
    expect(statSync(settingsKeyPath(d)).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(settingsKeyPath(d), 'utf8').trim(), 'base64')).toHaveLength(32);
    // Another instance on the same key file (a restart) reads it.
    expect(SecretBox.forDataDir(d).open('llmApiKey', a)).toBe('"sk-plain-text"');
  });

  it('never overwrites an existing key', () => {
    const d = dir();
    const sealed = SecretBox.forDataDir(d).seal('redisUrl', 'x');
    const key = readFileSync(settingsKeyPath(d), 'utf8');
    SecretBox.forDataDir(d).seal('redisUrl', 'y');
    expect(readFileSync(settingsKeyPath(d), 'utf8')).toBe(key);
    expect(SecretBox.forDataDir(d).open('redisUrl', sealed)).toBe('x');
  });

  it('refuses a value moved to another setting, a tampered one, an unknown format and a truncated one', () => {
    const box = SecretBox.forDataDir(dir());
    const sealed = box.seal('llmApiKey', 'secret');
    expect(failure(() => box.open('databaseUrl', sealed))).toBeInstanceOf(SecretBoxError);
    const bytes = Buffer.from(sealed.slice(3), 'base64');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    expect(failure(() => box.open('llmApiKey', `v1:${bytes.toString('base64')}`)).message).toContain('cannot be decrypted');
    expect(failure(() => box.open('llmApiKey', 'plain')).message).toContain('not in a known encrypted format');
    expect(failure(() => box.open('llmApiKey', 'v1:AAAA')).message).toContain('truncated');
  });

  it('without its key file, or with a damaged one, fails with a message naming the file', () => {
    const d = dir();
    const sealed = SecretBox.forDataDir(d).seal('llmApiKey', 'secret');
    rmSync(settingsKeyPath(d));
    const missing = failure(() => SecretBox.forDataDir(d).open('llmApiKey', sealed));
    expect(missing).toBeInstanceOf(SecretBoxError);
    expect(missing.message).toContain('settings.key is missing');
    writeFileSync(settingsKeyPath(d), 'c2hvcnQ=\n');
    expect(failure(() => SecretBox.forDataDir(d).open('llmApiKey', sealed)).message).toContain('32-byte key');
    expect(failure(() => SecretBox.forDataDir(d).seal('llmApiKey', 'x')).message).toContain('32-byte key');
    writeFileSync(settingsKeyPath(d), `${Buffer.alloc(32, 1).toString('base64')}\n`);
    expect(failure(() => SecretBox.forDataDir(d).open('llmApiKey', sealed)).message).toContain('a different or damaged key');
  });

  it('reports a key file it cannot read', () => {
    const d = dir();
    // A directory where the key file should be: reading it fails with something other than ENOENT.
    const box = new SecretBox(d);
    expect(failure(() => box.seal('llmApiKey', 'x')).message).toContain('cannot be read');
  });
});

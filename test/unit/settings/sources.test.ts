import { describe, expect, it } from 'vitest';
import type { ConfigSource } from '../../../backend/config/load.js';
import { settingSourceOf } from '../../../backend/settings/settings-service.js';

describe('settingSourceOf', () => {
  it.each([
    [undefined, 'default'],
    ['default', 'default'],
    ['config file', 'file'],
    // The desktop app's own preferences: replaced by a value saved through the API.
    ['override', 'file'],
    ['.env', 'env'],
    ['environment', 'env'],
    ['command line', 'flag'],
  ] as Array<[ConfigSource | undefined, string]>)('%s -> %s', (source, expected) => {
    expect(settingSourceOf(source)).toBe(expected);
  });
});

import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../backend/logging/logger.js';
import { openRotatingFile } from '../../../backend/logging/rotating-file.js';
import { tempDir } from '../../fixtures/test-server.js';

const line = (i: number): string => `${JSON.stringify({ i, msg: `line ${i}`.padEnd(90, '.') })}\n`;

describe('the rotating log file', () => {
  it('rotates at the size limit, keeps the newest N old files and loses no line', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'logs', 'backend.log');
    const log = openRotatingFile({ file, maxBytes: 1000, keep: 2 });
    // ~100 bytes a line: a rotation every 10 lines, five of them.
    for (let i = 0; i < 55; i++) log.write(line(i));
    await log.close();

    expect(readdirSync(path.dirname(file)).sort()).toEqual(['backend.log', 'backend.log.1', 'backend.log.2']);
    const numbers = (name: string): number[] =>
      readFileSync(path.join(dir, 'logs', name), 'utf8')
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { i: number }).i);
    const oldest = numbers('backend.log.2');
    const older = numbers('backend.log.1');
    const current = numbers('backend.log');
    // backend.log.1 is the newest old file; together the three hold the last lines, in order.
    const kept = [...oldest, ...older, ...current];
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, k) => 55 - kept.length + k));
    expect(oldest.length).toBeGreaterThan(0);
    expect(current).toEqual([50, 51, 52, 53, 54]);
    for (const name of ['backend.log.1', 'backend.log.2']) expect(readFileSync(path.join(dir, 'logs', name)).length).toBeGreaterThanOrEqual(1000);
    // Dropped: the lines before the kept files began (more than `keep` rotations happened).
    expect(kept[0]).toBeGreaterThan(0);
  });

  it('continues counting from the size of a file left by the last run', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'backend.log');
    writeFileSync(file, 'x'.repeat(950));
    const log = openRotatingFile({ file, maxBytes: 1000, keep: 1 });
    log.write(line(0));
    log.write(line(1));
    await log.close();
    expect(readFileSync(`${file}.1`, 'utf8')).toBe(`${'x'.repeat(950)}${line(0)}`);
    expect(readFileSync(file, 'utf8')).toBe(line(1));
  });

  it('the logger writes JSON lines to DATA_DIR/logs/backend.log and to its console stream', async () => {
    const dir = tempDir();
    const console: string[] = [];
    const handle = createLogger({ level: 'info', dataDir: dir, toFile: true, stdout: { write: (l: string) => console.push(l) } });
    handle.logger.info({ n: 1 }, 'hello');
    handle.logger.debug('not at info');
    await handle.close();
    expect(handle.file).toBe(path.join(dir, 'logs', 'backend.log'));
    expect(existsSync(handle.file ?? '')).toBe(true);
    const fileLines = readFileSync(handle.file ?? '', 'utf8').trim().split('\n');
    expect(fileLines).toHaveLength(1);
    expect(JSON.parse(fileLines[0] ?? '{}')).toMatchObject({ level: 'info', msg: 'hello', n: 1 });
    expect(console).toHaveLength(1);
  });
});

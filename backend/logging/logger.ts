import path from 'node:path';
import pino, { type Logger } from 'pino';
import { scrubSecrets } from '../config/secrets.js';
import type { LogLevel } from '../config/schema.js';
import { consoleSink, type LogFormat } from './console.js';
import { openRotatingFile, type RotatingFile } from './rotating-file.js';

export type { Logger } from 'pino';

/**
 * The levels most code writes at, and the check before it builds a line: what a chat turn needs
 * of a logger, so it can be given one that makes its pino child only when a line is written.
 */
export type LeveledLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error' | 'isLevelEnabled'>;

export interface LoggerOptions {
  level: LogLevel;
  dataDir: string;
  toFile: boolean;
  /** Where console lines go; defaults to stdout. Tests pass a collector. */
  stdout?: { write(line: string): unknown };
  /** `json` (the default here): the file's JSON lines; `pretty`: warnings and errors for people. */
  format?: LogFormat;
}

export interface LoggerHandle {
  logger: Logger;
  file: string | undefined;
  close(): Promise<void>;
}

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.apiToken',
  '*.llmApiKey',
  '*.password',
  'apiToken',
  'llmApiKey',
  'password',
  'token',
];

/**
 * JSON lines to <DATA_DIR>/logs/backend.log, and to the console as console.ts decides. Every line passes through the secret
 * scrubber on its way out, so a token that ends up inside a message is masked too.
 */
export function createLogger(options: LoggerOptions): LoggerHandle {
  const stdout = options.stdout ?? process.stdout;
  let file: RotatingFile | undefined;
  const filePath = options.toFile ? path.join(options.dataDir, 'logs', 'backend.log') : undefined;
  if (filePath !== undefined) file = openRotatingFile({ file: filePath, maxBytes: 10 * 1024 * 1024, keep: 5 });

  const toConsole = consoleSink(options.format ?? 'json', options.level, stdout);
  const stream = {
    write(line: string): void {
      const clean = scrubSecrets(line);
      toConsole(clean);
      file?.write(clean);
    },
    // pino's logger.flush() lands here: a forced exit writes its last lines before the process ends.
    flush(cb: (err?: Error) => void): void {
      file?.flushSync();
      cb();
    },
  };
  const logger = pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '***' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return {
    logger,
    file: filePath,
    close: async () => {
      await file?.close();
    },
  };
}

import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { ValidationService } from '../../governance/validation-service.js';
import { AppError } from '../errors.js';
import { parseInput } from '../validation.js';

export const VALIDATE_LIMITS = { files: 50, fileBytes: 256 * 1024, totalBytes: 1024 * 1024 };

const file = z.strictObject({
  path: z.string().min(1, 'path must not be empty').max(500),
  content: z.string({ error: (i) => (i.input === undefined ? 'content is required' : 'content must be a string') }),
  language: z.string().min(1).max(40).optional(),
});
const filesBody = z.strictObject({
  files: z.array(file).min(1, 'files must list at least one file'),
});
const snippetBody = z.strictObject({
  code: z.string({ error: (i) => (i.input === undefined ? 'code is required' : 'code must be a string') }),
  language: z.string({ error: 'language is required with code (or give a path to infer it from)' }).min(1).max(40).optional(),
  path: z.string().min(1).max(500).optional(),
});
const query = z.object({ format: z.enum(['json', 'sarif']).default('json') });

type Files = z.infer<typeof filesBody>['files'];

function normalize(body: unknown): Files {
  if (typeof body === 'object' && body !== null && 'files' in body) return parseInput(filesBody, body).files;
  const snippet = parseInput(snippetBody, body);
  if (snippet.language === undefined && snippet.path === undefined) {
    throw new AppError(400, 'invalid-request', 'language: give the language of the code, or a path to infer it from', { field: 'language' });
  }
  return [{ path: snippet.path ?? 'snippet', content: snippet.code, ...(snippet.language ? { language: snippet.language } : {}) }];
}

function enforceLimits(files: Files): void {
  if (files.length > VALIDATE_LIMITS.files) {
    throw new AppError(413, 'payload-too-large', `at most ${VALIDATE_LIMITS.files} files per request`, { field: 'files', limit: VALIDATE_LIMITS.files });
  }
  let total = 0;
  for (const [i, f] of files.entries()) {
    const bytes = Buffer.byteLength(f.content);
    total += bytes;
    if (bytes > VALIDATE_LIMITS.fileBytes) {
      throw new AppError(413, 'payload-too-large', `files[${i}] (${f.path}) is larger than ${VALIDATE_LIMITS.fileBytes} bytes`, {
        field: `files.${i}.content`,
        limit: VALIDATE_LIMITS.fileBytes,
      });
    }
  }
  if (total > VALIDATE_LIMITS.totalBytes) {
    throw new AppError(413, 'payload-too-large', `the files add up to more than ${VALIDATE_LIMITS.totalBytes} bytes`, { field: 'files', limit: VALIDATE_LIMITS.totalBytes });
  }
}

export function validateRoutes(validation: ValidationService): Router {
  const router = Router();
  router.post('/validate', async (req: Request, res: Response) => {
    const { format } = parseInput(query, req.query, 'format');
    const files = normalize(req.body);
    enforceLimits(files);
    const report = await validation.validateFiles(files, 'api');
    if (format === 'sarif') {
      res.setHeader('Content-Type', 'application/sarif+json; charset=utf-8');
      res.end(JSON.stringify(await validation.toSarif(report)));
      return;
    }
    res.json(report);
  });
  return router;
}

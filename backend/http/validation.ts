import type { z } from 'zod';
import { invalid } from '../errors.js';

/** Parses input with a zod schema; a failure is a 400 that names the offending field. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, where = 'body'): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({
    field: i.path.length > 0 ? i.path.join('.') : where,
    message: i.message,
  }));
  const first = issues[0] ?? { field: where, message: 'invalid' };
  throw invalid(`${first.field}: ${first.message}`, { field: first.field, issues });
}

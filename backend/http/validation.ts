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

/**
 * Where in a parsed JSON value a NUL character hides (in a string or a key), as a field path such
 * as `files.0.content`; undefined when there is none. NUL truncates strings in C libraries, logs
 * and terminals and has no use in any text Orchestra stores, so it is refused once, here, for every
 * body and socket payload, instead of field by field.
 */
export function nulField(value: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length > 0) {
    const [v, at] = stack.pop() as [unknown, string];
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return at;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], at === '' ? String(i) : `${at}.${i}`]);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, child] of Object.entries(v)) {
        const field = at === '' ? k : `${at}.${k}`;
        if (k.includes('\u0000')) return field;
        stack.push([child, field]);
      }
    }
  }
  return undefined;
}

/** Throws the 400 for a value with a NUL character (see nulField). */
export function refuseNul(value: unknown, where = 'body'): void {
  const field = nulField(value);
  if (field === undefined) return;
  const named = field === '' ? where : field;
  throw invalid(`${named}: must not contain the NUL character (\\u0000)`, { field: named });
}

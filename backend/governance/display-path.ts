import path from 'node:path';

/** Paths as shown in findings and matched by policy globs: cwd-relative with forward slashes. */
export function displayPath(filePath: string, cwd: string): string {
  let shown = filePath;
  if (path.isAbsolute(filePath)) {
    const rel = path.relative(cwd, filePath);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) shown = rel;
  }
  return shown.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
}

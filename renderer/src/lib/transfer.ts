const conversations = (n: number): string => `${n} conversation${n === 1 ? '' : 's'}`;

/**
 * What an import did. The server keeps one copy per source, so importing a file again answers
 * with the conversations of the first import: those already listed are not news.
 */
export function importSummary(imported: readonly string[], known: ReadonlySet<string>, fileName: string): string {
  const fresh = imported.filter((id) => !known.has(id)).length;
  const already = imported.length - fresh;
  if (fresh === 0) return `${fileName} was imported before: its ${conversations(already)} ${already === 1 ? 'is' : 'are'} already here.`;
  return `Imported ${conversations(fresh)} from ${fileName}.${already > 0 ? ` ${conversations(already)} ${already === 1 ? 'was' : 'were'} already here.` : ''}`;
}

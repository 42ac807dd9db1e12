/**
 * Validates the code blocks of a chat reply. Each block is validated as its own file named
 * `reply.md#block-<n>` (n counts blocks from 1, in reply order), in the language of its fence
 * tag (untagged or unknown tags are scanned for secrets only). Findings are mapped back so that
 * line and column point into the reply markdown itself. Dependency checks are off: a snippet in
 * a chat belongs to no project.
 */
import { extractCodeBlocks, removedIndent } from './fences.js';
import { languageFromFenceInfo } from './languages.js';
import type { Governance, ValidationReport } from './types.js';

export const REPLY_PATH = 'reply.md';

export function replyBlockPath(index: number): string {
  return `${REPLY_PATH}#block-${index + 1}`;
}

export async function validateReply(gov: Governance, markdown: string): Promise<ValidationReport | null> {
  const blocks = extractCodeBlocks(markdown);
  if (blocks.length === 0) return null;
  const report = await gov.validate(
    blocks.map((block, index) => ({
      path: replyBlockPath(index),
      content: block.content,
      language: languageFromFenceInfo(block.language) ?? 'text',
    })),
    { checkDependencies: false },
  );
  const lines = markdown.split(/\r?\n/);
  const findings = report.findings.map((finding) => {
    const index = Number(/#block-(\d+)$/.exec(finding.path)?.[1] ?? '0') - 1;
    const block = blocks[index];
    if (!block) return finding;
    const line = block.startLine + finding.line - 1;
    const endLine = block.startLine + finding.endLine - 1;
    return {
      ...finding,
      line,
      column: finding.column + removedIndent(lines[line - 1] ?? '', block.indent),
      endLine,
      endColumn: finding.endColumn + removedIndent(lines[endLine - 1] ?? '', block.indent),
    };
  });
  findings.sort((a, b) => a.line - b.line || a.column - b.column || a.ruleId.localeCompare(b.ruleId));
  return { ...report, findings };
}

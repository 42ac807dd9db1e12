/** Public API of the governance module. */
export type {
  EngineId,
  Finding,
  Governance,
  RuleDescriptor,
  Severity,
  SourceFile,
  ValidateOptions,
  ValidationCache,
  ValidationReport,
  ValidationSummary,
} from './types.js';
export type { LanguageId } from './languages.js';
export { createGovernance, type CreateGovernanceOptions } from './service.js';
export { createGovernancePool, defaultGovernanceThreads, GOVERNANCE_TIMEOUT_RULE, type GovernancePoolOptions } from './pool.js';
export { GovernanceConfigError } from './errors.js';
export { extractCodeBlocks, type CodeBlock } from './fences.js';
export { validateReply, replyBlockPath } from './reply.js';
export { memoryValidationCache } from './cache.js';
export { formatText } from './format-text.js';
export { buildSarif, type SarifLog } from './sarif.js';
export { languageFromPath, languageFromFenceInfo, normalizeLanguage } from './languages.js';
export { runValidateCli, runHooksCli, type CliIo } from './cli.js';

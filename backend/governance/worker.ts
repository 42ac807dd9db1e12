/**
 * The governance worker: one per thread of the pool (pool.ts). It builds the engines once, as soon
 * as the thread starts (so a thread that replaces a recycled one is warm before its first task),
 * and then validates whatever the main thread sends it, with its own per-file result cache.
 * Everything crossing the thread boundary is plain data (structured clone), errors included.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { lowerOwnPriority } from './priority.js';
import { createGovernance, type CreateGovernanceOptions } from './service.js';
import type { Governance, RuleDescriptor, SourceFile, ValidateOptions, ValidationReport } from './types.js';

export interface WorkerSetup {
  configPath?: string;
  cwd: string;
  lazy: boolean;
}

/** `started` hears when the engines are ready and the work begins: the time limit counts from there. */
export type WorkerTask = { kind: 'describe' } | { kind: 'validate'; files: SourceFile[]; opts: ValidateOptions; started?: MessagePort };

/** A config error as data: the main thread turns it back into a GovernanceConfigError. */
export interface WorkerFailure {
  failed: { name: string; message: string; file?: string; field?: string; ruleId?: string; line?: number; detail?: string };
}

export interface WorkerDescription {
  configHash: string;
  configPath: string;
  rules: RuleDescriptor[];
}

export type WorkerResult = WorkerDescription | { report: ValidationReport } | WorkerFailure;

const setup = workerData as WorkerSetup;
const options: CreateGovernanceOptions = { cwd: setup.cwd, lazy: setup.lazy, ...(setup.configPath !== undefined ? { configPath: setup.configPath } : {}) };
const loading: Promise<Governance> = createGovernance(options).then((governance) => {
  lowerOwnPriority();
  return governance;
});
// The failure is reported to every task that asks; it must not also be an unhandled rejection.
loading.catch(() => {});

function failure(err: unknown): WorkerFailure {
  const e = err as Partial<Record<'name' | 'message' | 'file' | 'field' | 'ruleId' | 'detail', string>> & { line?: number };
  return {
    failed: {
      name: e.name ?? 'Error',
      message: e.message ?? String(err),
      ...(e.file !== undefined ? { file: e.file } : {}),
      ...(e.field !== undefined ? { field: e.field } : {}),
      ...(e.ruleId !== undefined ? { ruleId: e.ruleId } : {}),
      ...(e.line !== undefined ? { line: e.line } : {}),
      ...(e.detail !== undefined ? { detail: e.detail } : {}),
    },
  };
}

export default async function run(task: WorkerTask): Promise<WorkerResult> {
  let governance: Governance;
  try {
    governance = await loading;
  } catch (err) {
    return failure(err);
  }
  if (task.kind === 'describe') return { configHash: governance.configHash, configPath: governance.configPath, rules: governance.rules() };
  task.started?.postMessage('started');
  task.started?.close();
  return { report: await governance.validate(task.files, task.opts) };
}

/**
 * Quitting runs once, behind a guard, with a time limit on every step: a step that hangs (a
 * backend that will not close, a disk that will not flush) is abandoned after its limit and the
 * remaining steps still run, so the app always exits.
 */
export interface QuitStep {
  name: string;
  run: () => Promise<unknown> | void;
  /** Overrides the guard's default limit for this step. */
  timeoutMs?: number;
}

export type StepOutcome = { name: string; result: 'ok' | 'timeout' | 'failed'; ms: number; error?: string };

export interface QuitGuard {
  /** Runs the steps the first time; every later call returns the same promise. */
  run(): Promise<StepOutcome[]>;
  readonly state: 'idle' | 'running' | 'done';
}

export interface QuitGuardOptions {
  steps: QuitStep[];
  stepTimeoutMs: number;
  log?: (line: string) => void;
  now?: () => number;
}

async function runStep(step: QuitStep, limit: number, now: () => number): Promise<StepOutcome> {
  const started = now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), limit);
  });
  try {
    const work = Promise.resolve().then(step.run).then(() => 'ok' as const);
    // A step that fails after its timeout has no one left to report to; swallow it there.
    work.catch(() => undefined);
    const result = await Promise.race([work, timeout]);
    return { name: step.name, result, ms: now() - started };
  } catch (err) {
    return { name: step.name, result: 'failed', ms: now() - started, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

export function createQuitGuard(options: QuitGuardOptions): QuitGuard {
  const now = options.now ?? Date.now;
  let state: QuitGuard['state'] = 'idle';
  let running: Promise<StepOutcome[]> | undefined;
  return {
    get state() {
      return state;
    },
    run() {
      running ??= (async () => {
        state = 'running';
        const outcomes: StepOutcome[] = [];
        for (const step of options.steps) {
          const outcome = await runStep(step, step.timeoutMs ?? options.stepTimeoutMs, now);
          if (outcome.result !== 'ok') {
            options.log?.(`quit step "${step.name}" ${outcome.result === 'timeout' ? `timed out after ${outcome.ms} ms` : `failed: ${outcome.error ?? ''}`}`);
          }
          outcomes.push(outcome);
        }
        state = 'done';
        return outcomes;
      })();
      return running;
    },
  };
}

import { getPriority, setPriority } from 'node:os';

/** How much lower than the server's event loop a worker runs while it validates. */
export const VALIDATION_NICE_INCREMENT = 10;

/**
 * Validation runs at a lower CPU priority than the event loop, so /healthz and chat keep answering
 * while a large file is checked. Loading the engines does not: it is a one-off of several seconds
 * of CPU, and at nice +10 on a busy machine it took minutes (115 s against 22 s at normal priority
 * at a load average of 22–27 on two cores), with every verdict waiting for it. On Linux the nice
 * value belongs to the thread, so this lowers this worker only; elsewhere it would lower the whole
 * process, event loop included, so the worker stays as it is.
 */
export function lowerOwnPriority(platform: NodeJS.Platform = process.platform): boolean {
  if (platform !== 'linux') return false;
  try {
    setPriority(0, Math.min(19, getPriority(0) + VALIDATION_NICE_INCREMENT));
    return true;
  } catch {
    // A sandbox may refuse it; running at normal priority is still correct.
    return false;
  }
}

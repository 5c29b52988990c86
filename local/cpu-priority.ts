/**
 * CPU priority of the local runtime's parts. On AWS, ingest has a CPU of its own: no processor,
 * publisher, reconciler or DynamoDB shares it. Locally they all share this machine's cores, and
 * under load the scheduler would give each an equal share, so ingest's answer time (the one
 * LiveKit waits on, with a 3 s timeout and one serial queue per room) would wait behind background
 * work that on AWS runs elsewhere. So the background parts run at a lower priority (a higher nice
 * value): ingest, its front door and the SQS emulator it sends to answer first, and the background
 * work uses every cycle they leave, which on an idle or lightly loaded machine is all of them (nice
 * only matters when the cores are saturated).
 *
 * Linux only: there, a nice value belongs to a thread (man 2 setpriority, "a per-thread attribute"),
 * so a worker thread can lower its own priority without the rest of the process, and a process's
 * existing threads are lowered one by one (threads created later inherit their creator's value).
 * Elsewhere `setpriority(0)` would lower the whole process, so nothing is changed.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The nice value of background work: the processor, the publisher, the reconciler, DynamoDB Local. */
export const BACKGROUND_NICENESS = 10;

/** Whether thread priorities can be set here (Linux). */
export const threadPrioritySupported = (): boolean => process.platform === 'linux';

/**
 * Lowers the calling thread's priority to `niceness` (call it on the worker thread itself). Returns
 * whether it was applied; a refusal (a container without the permission) leaves the default.
 */
export function lowerThisThreadPriority(niceness: number = BACKGROUND_NICENESS): boolean {
  if (!threadPrioritySupported()) return false;
  try {
    setPriority(niceness);
    return true;
  } catch {
    return false;
  }
}

/** Lowers the priority of every thread of another process (e.g. DynamoDB Local's JVM). Returns how many threads it lowered. */
export function lowerProcessPriority(pid: number, niceness: number = BACKGROUND_NICENESS): number {
  if (!threadPrioritySupported()) return 0;
  let lowered = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    try {
      setPriority(Number(tid), niceness);
      lowered++;
    } catch {
      // The thread exited meanwhile, or lowering is not permitted: leave it.
    }
  }
  return lowered;
}

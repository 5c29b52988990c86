/** Thrown when an awaited operation did not settle within its deadline. */
export class DeadlineExceededError extends Error {
  constructor(
    what: string,
    readonly ms: number,
  ) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'DeadlineExceededError';
  }
}

/**
 * `run`'s result, or a `DeadlineExceededError` once `ms` have passed, whichever comes first. The
 * signal handed to `run` is aborted at the deadline so a client that honours it stops; the race
 * does not depend on it, so an operation that ignores the signal still cannot hold the answer.
 */
export async function withDeadline<T>(what: string, ms: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new DeadlineExceededError(what, ms);
      controller.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([run(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

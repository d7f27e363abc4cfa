/**
 * Waiting with a deadline: for a promise, or for a condition to become true. Tests, stress and
 * bench wait this way instead of sleeping a fixed time, so a loaded machine slows them down
 * without failing them.
 * @module
 */

/** Resolves with `promise` or rejects after `ms` milliseconds, clearing its timer either way. */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `check` every 10 ms until it is true, for at most `ms`; `check` may be async (a query
 * over a socket). Throws naming `what` when the deadline passes.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

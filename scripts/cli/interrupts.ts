import { InterruptedError } from '../../lambdas/core/errors.ts';

/** SIGINT/SIGTERM handling for a write verb, while it runs. */
export interface Interrupts {
  /** Aborted on the first SIGINT or SIGTERM: the runner cancels its statement, rolls back, releases the lease. */
  readonly signal: AbortSignal;
  /** Removes the handlers (the verb is over). */
  dispose(): void;
}

/**
 * Installs SIGINT and SIGTERM handlers for a write verb. The first signal aborts `signal` and says what
 * happens; the verb then prints `interrupted: …` and exits 130. A second signal exits 130 at once (the lease
 * is then left to its proof or its expiry).
 */
export function watchInterrupts(stderr: NodeJS.WritableStream, exit: (code: number) => never = (code) => process.exit(code)): Interrupts {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      stderr.write(`offpeak: ${name} again: exiting at once\n`);
      exit(130);
    }
    stderr.write(`offpeak: ${name}: cancelling the running statement and releasing the lease (${name === 'SIGINT' ? 'Ctrl-C' : name} again exits at once)\n`);
    controller.abort(new InterruptedError(name));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The deadline of the work in progress (an advance call), seen by the database adapters without being
 * passed through every call: retries of a resuming database or of a lost response wait only while it
 * leaves time. Outside a `withCallDeadline` scope there is none, and adapters fall back to their own
 * bounded retry budget.
 */
const scope = new AsyncLocalStorage<Date>();

export function withCallDeadline<T>(deadline: Date | undefined, fn: () => Promise<T>): Promise<T> {
  return deadline ? scope.run(deadline, fn) : fn();
}

export function callDeadline(): Date | undefined {
  return scope.getStore();
}

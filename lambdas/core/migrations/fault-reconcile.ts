/**
 * Faults absorbed inside a run: a plan unit whose call failed for the transport (the database resuming past
 * the adapter's retries, a lost response, a 5xx; `isTransportFault`) is reconciled from the ledger, never
 * failed for it.
 *
 * - What committed is read from the run's position: every unit's bookkeeping moves the run past it in the same
 *   statement or transaction as its work (a transactional unit's journal rides on its first step; a standalone
 *   step's "done" write is gated on its post-condition). So a lost COMMIT, or the lost response of a
 *   one-statement unit, is resolved by one read: position past the unit → it committed.
 * - Otherwise the unit did not commit: a transaction was rolled back by the adapter (the rollback resent while
 *   its responses are lost), and the unit runs again. The retry runs with `mayBeRunning`, so a standalone
 *   step looks in the catalog first: an index build whose response was lost, or that is still running, is
 *   found there (valid → journaled done; running → followed; INVALID → dropped and rebuilt).
 * - Up to `FAULT_ATTEMPTS` faults per unit; past them, or when even the ledger cannot be read, the call ends
 *   with OutcomeUnknownError and the run stays resumable where the ledger says it is.
 */
import { isTransportFault } from '../db/data-api-errors.ts';
import { OutcomeUnknownError } from '../errors.ts';
import type { CallContext, RunContext } from './run-context.ts';
import { errorText } from './standalone.ts';

/** Transport faults absorbed per plan unit before the call gives up with OutcomeUnknownError. */
export const FAULT_ATTEMPTS = 10;

/** Where the run stands in the ledger (its position), read with the adapter's own retries. */
async function ledgerPosition(rc: RunContext, runId: string, fault: unknown): Promise<number> {
  try {
    const run = await rc.ledger.getRun(runId);
    if (run) return run.position;
  } catch (error) {
    throw new OutcomeUnknownError(`run ${runId}: a call failed (${errorText(fault)}) and the ledger could not be read to find out what committed: ${errorText(error)}`, {
      cause: error,
      context: { runId, fault: errorText(fault) },
    });
  }
  throw new OutcomeUnknownError(`run ${runId} is missing from the ledger while reconciling a failed call (${errorText(fault)})`, { cause: fault, context: { runId } });
}

/**
 * Runs the plan unit at `position` (`run` gets the call context to use), absorbing transport faults: after
 * each one, the ledger says whether the unit committed ('done') or must run again. `check` runs before each
 * retry (the lease keeper's: a run that lost its lease, or was interrupted, stops instead).
 */
export async function runUnitReconciled<T extends string>(
  rc: RunContext,
  call: CallContext,
  position: number,
  run: (call: CallContext) => Promise<T>,
  check: () => void = () => undefined,
): Promise<T | 'done'> {
  let ctx = call;
  for (let fault = 1; ; fault++) {
    try {
      if (fault > 1) check();
      return await run(ctx);
    } catch (error) {
      if (!isTransportFault(error)) throw error;
      const committed = (await ledgerPosition(rc, call.runId, error)) > position;
      rc.emit({ event: 'fault_reconciled', runId: call.runId, position, attempt: fault, outcome: committed ? 'committed' : 'retrying', error: errorText(error) });
      if (committed) return 'done';
      if (fault >= FAULT_ATTEMPTS) {
        throw new OutcomeUnknownError(`run ${call.runId}: plan unit ${position + 1} met ${fault} faults in a row (last: ${errorText(error)}); run the same command again to resume`, {
          cause: error,
          context: { runId: call.runId, position },
        });
      }
      // The unit's statement may still run, or have run, on the server: look in the catalog before running it again.
      ctx = { ...call, mayBeRunning: true };
      await rc.sleep(Math.round(rc.backoff(fault)));
    }
  }
}

/** Runs an idempotent piece of a call (the final verification) again after a transport fault, a few times. */
export async function retryIdempotent<T>(rc: RunContext, fn: () => Promise<T>): Promise<T> {
  for (let fault = 1; ; fault++) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransportFault(error) || fault >= FAULT_ATTEMPTS) throw error;
      await rc.sleep(Math.round(rc.backoff(fault)));
    }
  }
}

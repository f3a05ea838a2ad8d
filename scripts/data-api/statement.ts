import { parseStatements } from '../../lambdas/core/db/statements.ts';
import { ValidationError } from '../../lambdas/core/errors.ts';
import type { RawResult, Session } from './backend.ts';
import type { BoundStatement } from './parameters.ts';
import { ServiceError, statementTimeout, validationError } from './service-error.ts';

const countedStatements = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

export interface Checked {
  /** True for INSERT/UPDATE/DELETE/MERGE, whose row count is numberOfRecordsUpdated. */
  counts: boolean;
}

/**
 * What the parser said about a statement text, remembered per text: the parse
 * (libpg-query, WASM) costs more than a small query's round trip, and callers
 * repeat the same few texts with different parameters. Bounded LRU; texts longer
 * than `cacheableLength` (one-off DDL, seed data) are parsed each time, not kept.
 */
type Verdict = Checked | 'multiple';
const parsed = new Map<string, Verdict>();
const cacheEntries = 1_000;
const cacheableLength = 4_096;

async function verdictOf(text: string): Promise<Verdict> {
  try {
    const statements = await parseStatements(text);
    if (statements.length > 1) return 'multiple';
    const kind = statements[0] ? Object.keys(statements[0].node)[0] : undefined;
    return { counts: kind !== undefined && countedStatements.has(kind) };
  } catch (error) {
    if (error instanceof ValidationError) return { counts: true };
    throw error;
  }
}

/**
 * Rejects more than one statement, counted by the real PostgreSQL parser so a
 * `;` in a string, comment or $$ body does not count. SQL the parser rejects is
 * still sent, so the caller gets PostgreSQL's own syntax error.
 */
export async function checkSingleStatement(bound: BoundStatement): Promise<Checked> {
  let verdict = parsed.get(bound.text);
  if (verdict === undefined) {
    verdict = await verdictOf(bound.text);
    if (bound.text.length <= cacheableLength) {
      if (parsed.size >= cacheEntries) parsed.delete(parsed.keys().next().value!);
      parsed.set(bound.text, verdict);
    }
  } else {
    // Most recently used goes last, so the oldest key is the one evicted.
    parsed.delete(bound.text);
    parsed.set(bound.text, verdict);
  }
  if (verdict === 'multiple') throw validationError("Multistatements aren't supported.");
  return verdict;
}

interface PgLikeError {
  message: string;
  code: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
}

function isPgError(error: unknown): error is PgLikeError {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/** PostgreSQL's error as the service words it: `ERROR: … \n  Position: 15; SQLState: 42P01`. */
export function databaseError(error: unknown, bound?: BoundStatement): ServiceError | undefined {
  if (!isPgError(error)) return undefined;
  let message = `${error.severity ?? 'ERROR'}: ${error.message}`;
  if (error.detail) message += `\n  Detail: ${error.detail}`;
  if (error.hint) message += `\n  Hint: ${error.hint}`;
  if (error.position) {
    const position = bound ? bound.originalPosition(Number(error.position)) : Number(error.position);
    message += `\n  Position: ${position}`;
  }
  if (error.where) message += `\n  Where: ${error.where}`;
  return new ServiceError('DatabaseErrorException', 400, `${message}; SQLState: ${error.code}`, { cause: error });
}

export interface TimedOptions {
  /** The statement timeout, for messages. */
  timeoutMs: number;
  /** When the call's time is up (Date.now() scale): a batch shares one deadline across its parameter sets. */
  deadline: number;
  continueAfterTimeout: boolean;
  /** Told when the statement has really finished on its connection (later than the reply after a continued timeout). */
  track(settled: Promise<void>): void;
  /** Called if a statement left running past its timeout fails later (it has aborted its transaction). */
  onLateFailure?(settled: Promise<void>): void;
}

/**
 * Runs one statement under the service's statement timeout. On pg the
 * statement is cancelled with PostgreSQL's own cancel at the deadline, or, with
 * continueAfterTimeout, left running: the caller gets StatementTimeoutException
 * and the connection is freed only when the statement finishes. PGlite runs the
 * statement to completion on the JavaScript thread, so the timeout can only be
 * reported afterwards (and the statement's effect stays).
 */
export async function runTimed(session: Session, concurrent: boolean, text: string, values: Parameters<Session['query']>[1], options: TimedOptions): Promise<RawResult> {
  const running = session.query(text, values);
  const settled = running.then(() => undefined, () => undefined);
  options.track(settled);

  if (!concurrent) {
    const result = await running;
    const over = Date.now() - options.deadline;
    if (over > 0) {
      throw statementTimeout(
        `The call ran ${over} ms past the ${options.timeoutMs} ms statement timeout. ` +
          'This embedded database cannot cancel statements, so it ran to completion.',
        session.connectionId,
        false,
      );
    }
    return result;
  }

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, options.deadline - Date.now()))));
  try {
    const winner = await Promise.race([running, deadline]);
    if (winner !== 'timeout') return winner;
  } finally {
    clearTimeout(timer);
  }

  if (options.continueAfterTimeout) {
    running.catch(() => options.onLateFailure?.(settled));
    throw statementTimeout(
      `The statement ran over the ${options.timeoutMs} ms statement timeout; it keeps running on the database (continueAfterTimeout).`,
      session.connectionId,
      false,
    );
  }
  await session.cancel().catch(() => false);
  try {
    return await running;
  } catch (error) {
    if ((error as { code?: string }).code === '57014') {
      throw statementTimeout(`The statement ran over the ${options.timeoutMs} ms statement timeout and was cancelled.`, session.connectionId, true);
    }
    throw error;
  }
}

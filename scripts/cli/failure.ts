import { ExitCode } from './exit-codes.ts';
import {
  ChecksumMismatchError,
  ConfigError,
  DataApiError,
  DatabaseError,
  DatabaseLockedError,
  DatabaseUnavailableError,
  InterruptedError,
  LeaseHeldError,
  MigrationGraphError,
  OutsideWindowError,
  SourceBusyError,
  ValidationError,
} from '../../lambdas/core/errors.ts';

/** What the CLI says about an error that ended a verb: the exit code, a stable code for scripts, the text, what to do. */
export interface Failure {
  exitCode: ExitCode;
  /** Stable, for `--json` readers: bad_usage, bad_migrations, lease_held, connection_refused, … */
  code: string;
  message: string;
  hint: string | null;
}

/** The error and every cause below it (AggregateError's members too: node-postgres tries each address). */
function chain(error: unknown): unknown[] {
  const seen: unknown[] = [];
  const stack = [error];
  while (stack.length && seen.length < 20) {
    const e = stack.shift();
    if (e === undefined || e === null || seen.includes(e)) continue;
    seen.push(e);
    if (e instanceof AggregateError) stack.push(...e.errors);
    if (e instanceof Error) stack.push(e.cause);
  }
  return seen;
}

const codeOf = (e: unknown) => (typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : undefined);

/** SQLSTATEs and service errors that mean "this database cannot be reached or logged in to", with the cause. */
function unreachable(error: unknown): { code: string; hint: string } | undefined {
  const all = chain(error);
  for (const e of all) {
    const sqlState = e instanceof DatabaseError ? e.sqlState : undefined;
    if (sqlState?.startsWith('28')) {
      return { code: 'authentication_failed', hint: 'check the user and password in the URL (or the secret), and pg_hba.conf' };
    }
    if (sqlState === '3D000') return { code: 'unknown_database', hint: 'create the database, or fix its name in the URL (or --database)' };
    if (sqlState?.startsWith('08') || sqlState === '57P03') return { code: 'database_unreachable', hint: 'the server refused the connection or is starting up; retry, or check it' };
    if (e instanceof DataApiError) {
      if (e.serviceCode === 'DatabaseNotFoundException') return { code: 'unknown_database', hint: 'check --database and --resource-arn' };
      if (/Secret|AccessDenied|Forbidden|UnrecognizedClient|Signature|Credentials|Token/i.test(e.serviceCode)) {
        return { code: 'authentication_failed', hint: 'check --secret-arn and the AWS credentials (their IAM policy must allow rds-data and the secret)' };
      }
      if (e.serviceCode === 'HttpEndpointNotEnabledException') return { code: 'database_unreachable', hint: 'enable the Data API (HTTP endpoint) on the cluster' };
    }
  }
  const codes = all.map(codeOf);
  if (codes.includes('ECONNREFUSED')) return { code: 'connection_refused', hint: 'is the database (or the Data API server) running and listening on that host and port?' };
  if (codes.some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN')) return { code: 'host_not_found', hint: 'check the host name in the URL (or --data-api-endpoint)' };
  if (codes.some((c) => c === 'ETIMEDOUT' || c === 'ECONNRESET' || c === 'EHOSTUNREACH' || c === 'ENETUNREACH')) {
    return { code: 'database_unreachable', hint: 'the network path to the database failed; check the host, port, VPN or security group' };
  }
  const text = all.map((e) => (e instanceof Error ? e.message : '')).join('\n');
  if (/password authentication|SASL|SCRAM|client password must be/i.test(text)) return { code: 'authentication_failed', hint: 'check the user and password in the URL' };
  if (all.some((e) => e instanceof DatabaseUnavailableError)) return { code: 'database_unreachable', hint: 'the database is unavailable or resuming; retry in a minute' };
  return undefined;
}

/**
 * The message with its causes, as people read it; a usage line in the message (args.ts's ConfigErrors) becomes
 * the hint. node:util's own parse-error text is left out: parseVerb has said it better.
 */
export function describeError(error: unknown): { message: string; usage: string | null } {
  if (!(error instanceof Error)) return { message: String(error), usage: null };
  const at = error.message.indexOf('\nusage: ');
  let message = at < 0 ? error.message : error.message.slice(0, at);
  let cause = error.cause;
  while (cause instanceof Error) {
    if (!codeOf(cause)?.startsWith('ERR_PARSE_ARGS') && !message.includes(cause.message)) message += `\n  caused by: ${cause.message}`;
    cause = cause.cause;
  }
  return { message, usage: at < 0 ? null : error.message.slice(at + 1) };
}

/** Maps an error that ended a verb to its documented exit code (docs/cli.md, "Exit codes"). */
export function classifyFailure(error: unknown): Failure {
  const { message, usage } = describeError(error);
  const make = (exitCode: ExitCode, code: string, hint: string | null = null, prefix = ''): Failure => ({ exitCode, code, message: `${prefix}${message}`, hint: usage ?? hint });
  if (chain(error).some((e) => e instanceof InterruptedError)) return make(ExitCode.interrupted, 'interrupted', 'the run stopped between steps; run the same command to resume');
  if (error instanceof LeaseHeldError) return make(ExitCode.leaseHeld, 'lease_held', 'another run is migrating this database; wait for it (its lease expires on its own if it crashed)');
  if (error instanceof DatabaseLockedError) return make(ExitCode.leaseHeld, 'database_busy', 'another process has the embedded database open; wait for it, or pass --wait-for-lock');
  if (error instanceof SourceBusyError) return make(ExitCode.leaseHeld, 'source_busy', 'rehearse from a dump (--from-dump FILE), or when nothing else is connected to the source');
  if (error instanceof OutsideWindowError) return make(ExitCode.outsideWindow, 'outside_window', 'run the same command inside the window to start or resume');
  if (error instanceof ChecksumMismatchError) return make(ExitCode.usage, 'checksum_mismatch', 'restore the applied version of the file and put the change in a new migration');
  if (error instanceof MigrationGraphError) return make(ExitCode.usage, 'bad_migrations');
  if (error instanceof ConfigError || error instanceof ValidationError) return make(ExitCode.usage, 'bad_usage');
  if (codeOf(error)?.startsWith('ERR_PARSE_ARGS')) return make(ExitCode.usage, 'bad_usage');
  const cannotConnect = unreachable(error);
  if (cannotConnect) return make(ExitCode.unreachable, cannotConnect.code, cannotConnect.hint, `cannot reach or log in to the database (${cannotConnect.code.replaceAll('_', ' ')}): `);
  return make(ExitCode.failed, 'failed');
}

/** The `--json` document of a failed verb: `{"error":{"code","message","hint"},"exitCode"}`. */
export function failureJson(failure: Failure): string {
  return `${JSON.stringify({ error: { code: failure.code, message: failure.message, hint: failure.hint }, exitCode: failure.exitCode }, null, 2)}\n`;
}

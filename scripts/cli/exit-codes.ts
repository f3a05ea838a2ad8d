/** Documented process exit codes of the `offpeak` CLI. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  /** Bad usage, or bad migration files (graph, checksum). `lint` exits 1 on rule errors. */
  usage: 2,
  /** The migration lease is held by another run, or another process has the embedded database open. */
  leaseHeld: 3,
  /** The off-peak window is closed. */
  outsideWindow: 4,
  /** The database cannot be reached or logged in to (connection refused, unknown host, authentication, unknown database). */
  unreachable: 5,
  /** Pre-flight refused the plan: a build needs more than a whole window, or the builds more disk than is free. */
  refused: 6,
  /** The database was over --critical-load: the run stopped, resumable; the same command resumes it. */
  loadCritical: 7,
  /** Interrupted (SIGINT, SIGTERM): the statement was cancelled and the lease released; the same command resumes. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

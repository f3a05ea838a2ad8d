import type { ExitCode } from './exit-codes.ts';

/** What a verb gets: its own arguments (after the verb) and where to write. */
export interface CommandContext {
  argv: string[];
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface Command {
  /** The verb, possibly two words ("data-api serve"). */
  name: string;
  summary: string;
  run(context: CommandContext): Promise<ExitCode>;
}

import type { CommandContext } from './command.ts';

/** Writes either human text or one JSON document, so every verb honours --json the same way. */
export interface Output {
  readonly json: boolean;
  /** A line for people; dropped in --json mode (stdout carries only the JSON document). */
  line(text?: string): void;
  /** Progress and notes for people: stderr in --json mode so stdout stays parseable. */
  note(text: string): void;
  /** The JSON document (only in --json mode). */
  result(value: unknown): void;
}

export function createOutput(context: Pick<CommandContext, 'stdout' | 'stderr'>, json: boolean): Output {
  return {
    json,
    line(text = '') {
      if (!json) context.stdout.write(`${text}\n`);
    },
    note(text: string) {
      (json ? context.stderr : context.stdout).write(`${text}\n`);
    },
    result(value: unknown) {
      if (json) context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

/** Left-aligned columns, for lists of revisions. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

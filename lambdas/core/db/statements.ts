import { parse } from 'libpg-query';
import { ValidationError } from '../errors.ts';

/**
 * Statement splitting on the real PostgreSQL parser (libpg-query, WASM), so a `;`
 * inside a string, a comment or a $$ body never counts. Build-time and local use
 * only: Lambda bundles must not import this (the WASM is ~1.7 MB).
 */
export interface ParsedStatement {
  /** The statement's text, trimmed, without its terminating semicolon. */
  text: string;
  /** Offset of the statement in the input. */
  location: number;
  /** The parse tree node, e.g. { IndexStmt: {...} }. */
  node: Record<string, unknown>;
}

export async function parseStatements(sqlText: string): Promise<ParsedStatement[]> {
  let tree: { stmts?: Array<{ stmt: Record<string, unknown>; stmt_location?: number; stmt_len?: number }> };
  try {
    tree = (await parse(sqlText)) as typeof tree;
  } catch (error) {
    throw new ValidationError(`SQL does not parse: ${(error as Error).message}`, { cause: error });
  }
  return (tree.stmts ?? []).map((s) => {
    const location = s.stmt_location ?? 0;
    const raw = s.stmt_len ? sqlText.slice(location, location + s.stmt_len) : sqlText.slice(location);
    return { text: raw.trim().replace(/;\s*$/, ''), location, node: s.stmt };
  });
}

/** Number of statements in `sqlText` (0 for only comments or whitespace). */
export async function countStatements(sqlText: string): Promise<number> {
  return (await parseStatements(sqlText)).length;
}

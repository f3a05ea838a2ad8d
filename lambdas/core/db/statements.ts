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
  /** Offset of the statement in the input, in characters (string index). */
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
  // The parser reports byte offsets into the UTF-8 text; a non-ASCII comment or literal
  // would shift string indices, so slice the bytes and convert the offset to characters.
  const bytes = Buffer.from(sqlText, 'utf8');
  return (tree.stmts ?? []).map((s) => {
    const start = s.stmt_location ?? 0;
    const end = s.stmt_len ? start + s.stmt_len : bytes.length;
    const raw = bytes.subarray(start, end).toString('utf8');
    const location = bytes.subarray(0, start).toString('utf8').length;
    return { text: raw.trim().replace(/;\s*$/, ''), location, node: s.stmt };
  });
}

/** Number of statements in `sqlText` (0 for only comments or whitespace). */
export async function countStatements(sqlText: string): Promise<number> {
  return (await parseStatements(sqlText)).length;
}

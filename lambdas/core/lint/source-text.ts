/** Line arithmetic over source text. */

/** 1-based line of character offset `offset`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Offset of the first token at or after `offset`, skipping whitespace and SQL comments. */
export function skipTrivia(text: string, offset: number): number {
  const rest = text.slice(offset);
  const m = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/.exec(rest);
  return offset + (m?.[0].length ?? 0);
}

/** One-line form of a statement for terminal output. */
export function oneLine(statement: string, max = 160): string {
  const flat = statement.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

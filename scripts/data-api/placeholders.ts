/**
 * Rewrites the Data API's `:name` placeholders to PostgreSQL's `$n`, skipping
 * string literals (standard, E'' and dollar-quoted), quoted identifiers,
 * comments and `::` casts. A lexer rather than the parser, because libpg-query
 * does not accept `:name` and a name repeated in the SQL must reuse one `$n`.
 */
export interface Rewritten {
  text: string;
  /** Parameter names in `$n` order (index 0 is `$1`). */
  names: string[];
  /** Maps a 1-based character position in `text` back to the caller's SQL (for error positions). */
  originalPosition(position: number): number;
}

const identStart = /[A-Za-z_\u0080-\uffff]/;
const identPart = /[A-Za-z0-9_$\u0080-\uffff]/;

interface Replacement {
  from: number; // offset in the original
  to: number; // end offset in the original
  newFrom: number;
  newTo: number;
}

/**
 * `:name` always is a placeholder; `:0` (as kysely-data-api writes them) only when such a
 * parameter was given, so an array slice like `a[1:2]` is left alone.
 */
function isPlaceholder(sql: string, i: number, n: number, isNumericParameter: (name: string) => boolean): boolean {
  if (identStart.test(sql[i + 1]!)) return true;
  let j = i + 1;
  while (j < n && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
  return isNumericParameter(sql.slice(i + 1, j));
}

export function rewritePlaceholders(
  sql: string,
  castFor: (name: string) => string = () => '',
  isNumericParameter: (name: string) => boolean = () => false,
): Rewritten {
  const names: string[] = [];
  const replacements: Replacement[] = [];
  let out = '';
  let i = 0;
  const n = sql.length;
  const copyUntil = (end: number) => {
    out += sql.slice(i, end);
    i = end;
  };

  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      copyUntil(end === -1 ? n : end + 1);
    } else if (c === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else {
          j++;
        }
      }
      copyUntil(j);
    } else if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]!) && (i < 2 || !identPart.test(sql[i - 2]!));
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      copyUntil(Math.min(j + 1, n));
    } else if (c === '"') {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === '"' && sql[j + 1] === '"') j += 2;
        else if (sql[j] === '"') break;
        else j++;
      }
      copyUntil(Math.min(j + 1, n));
    } else if (c === '$' && (i === 0 || !identPart.test(sql[i - 1]!))) {
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        copyUntil(end === -1 ? n : end + tag[0].length);
      } else {
        copyUntil(i + 1);
      }
    } else if (c === ':' && next === ':') {
      copyUntil(i + 2);
    } else if (c === ':' && next !== undefined && /[A-Za-z0-9_]/.test(next) && isPlaceholder(sql, i, n, isNumericParameter)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
      const name = sql.slice(i + 1, j);
      let index = names.indexOf(name);
      if (index === -1) index = names.push(name) - 1;
      const replacement = `$${index + 1}${castFor(name)}`;
      replacements.push({ from: i, to: j, newFrom: out.length, newTo: out.length + replacement.length });
      out += replacement;
      i = j;
    } else if (identPart.test(c)) {
      // A whole word at once, so a `$` inside an identifier never opens a dollar quote.
      let j = i + 1;
      while (j < n && identPart.test(sql[j]!)) j++;
      copyUntil(j);
    } else {
      copyUntil(i + 1);
    }
  }

  return {
    text: out,
    names,
    originalPosition(position: number) {
      const offset = position - 1;
      let shift = 0;
      for (const r of replacements) {
        if (offset < r.newFrom) break;
        if (offset < r.newTo) return r.from + 1;
        shift = r.to - r.newTo;
      }
      return offset + shift + 1;
    },
  };
}

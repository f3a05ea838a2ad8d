import type { A_Const, Node, RangeVar } from 'libpg-query';

/** Small accessors over libpg-query's JSON parse tree ({ NodeType: {...} }). */

/** The node's type name and its body, e.g. ['IndexStmt', {...}]. */
export function unwrap(node: Node | Record<string, unknown>): [string, Record<string, unknown>] {
  const [type, body] = Object.entries(node)[0] ?? ['', {}];
  return [type, (body ?? {}) as Record<string, unknown>];
}

/** Schema-qualified table key; unqualified names are taken as public (the search_path the runner uses). */
export function tableKey(rel: RangeVar | undefined): string | undefined {
  if (!rel?.relname) return undefined;
  return `${rel.schemaname ?? 'public'}.${rel.relname}`;
}

/** A dotted name list (DROP objects, trigger targets) → `schema.name`; the last two parts count. */
export function nameKey(parts: readonly string[]): string | undefined {
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? `public.${parts[0]}` : parts.slice(-2).join('.');
}

/** `public.users` → `users`, for messages. */
export function display(key: string): string {
  return key.startsWith('public.') ? key.slice('public.'.length) : key;
}

/** The string items of a name list (e.g. DropStmt objects, funcname). */
export function names(list: Node[] | undefined): string[] {
  return (list ?? []).flatMap((n) => ('String' in n && n.String.sval !== undefined ? [n.String.sval] : []));
}

export function constValue(node: Node | undefined): string | number | boolean | undefined {
  if (!node || !('A_Const' in node)) return undefined;
  const c: A_Const = node.A_Const;
  if (c.sval) return c.sval.sval;
  if (c.ival) return c.ival.ival ?? 0;
  if (c.fval) return c.fval.fval;
  if (c.boolval) return c.boolval.boolval ?? false;
  return undefined;
}

/** A function call in an expression: its name parts as written (lower-case), e.g. ['pg_catalog', 'random']. */
export interface FunctionCall {
  name: string;
  schema: string | undefined;
}

/** Every FuncCall in an expression tree. */
export function functionCalls(node: unknown, out: FunctionCall[] = []): FunctionCall[] {
  if (Array.isArray(node)) {
    for (const n of node) functionCalls(n, out);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'FuncCall') {
        const parts = names((value as { funcname?: Node[] }).funcname).map((p) => p.toLowerCase());
        const name = parts.at(-1);
        if (name) out.push({ name, schema: parts.length > 1 ? parts.at(-2) : undefined });
      }
      functionCalls(value, out);
    }
  }
  return out;
}

/**
 * The value of a boolean option in a DefElem list (VACUUM, REINDEX, ...), read as PostgreSQL's
 * defGetBoolean does: no argument means true; true/false, on/off, yes/no, 1/0, any case, and
 * unique prefixes of true/false/yes/no, whether written as a keyword, a string ('false', E'false',
 * U&'false') or a number. Undefined when the option is absent.
 */
export function booleanOption(options: Node[] | undefined, name: string): boolean | undefined {
  let value: boolean | undefined;
  for (const o of options ?? []) {
    if (!('DefElem' in o) || o.DefElem.defname?.toLowerCase() !== name) continue;
    value = parseBoolean(o.DefElem.arg);
  }
  return value;
}

function parseBoolean(arg: Node | undefined): boolean {
  if (!arg) return true;
  if ('Integer' in arg) return (arg.Integer.ival ?? 0) !== 0;
  if ('Boolean' in arg) return arg.Boolean.boolval ?? false;
  if ('A_Const' in arg) {
    const v = constValue(arg);
    return typeof v === 'string' ? parseBooleanText(v) : Boolean(v);
  }
  if ('String' in arg) return parseBooleanText(arg.String.sval ?? '');
  if ('Float' in arg) return Number(arg.Float.fval) !== 0;
  return true;
}

/** PostgreSQL's parse_bool. An invalid value is an error there; read it as true (the option as written). */
export function parseBooleanText(text: string): boolean {
  const v = text.trim().toLowerCase();
  if (v === '') return true;
  if ('false'.startsWith(v) || ('no'.startsWith(v) && v.length >= 1) || v === 'off' || v === 'of' || v === '0') return false;
  return true;
}

/** DefElem list → { name: value }. */
export function optionValues(options: Node[] | undefined): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const o of options ?? []) {
    if (!('DefElem' in o) || !o.DefElem.defname) continue;
    const arg = o.DefElem.arg;
    out[o.DefElem.defname] =
      arg && 'Integer' in arg ? (arg.Integer.ival ?? 0) : arg && 'String' in arg ? arg.String.sval : arg && 'Float' in arg ? arg.Float.fval : undefined;
  }
  return out;
}

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

/** Every FuncCall name in an expression tree (lower-case, last name part). */
export function functionCalls(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const n of node) functionCalls(n, out);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'FuncCall') {
        const fn = names((value as { funcname?: Node[] }).funcname).at(-1);
        if (fn) out.push(fn.toLowerCase());
      }
      functionCalls(value, out);
    }
  }
  return out;
}

/** True when a DefElem list (WITH/VACUUM/REINDEX options) carries `name`. */
export function hasOption(options: Node[] | undefined, name: string): boolean {
  return (options ?? []).some((o) => 'DefElem' in o && o.DefElem.defname?.toLowerCase() === name);
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

import type { LintConfig } from './config.ts';
import { display } from './ast.ts';
import type { Finding } from './violation.ts';

/**
 * feature/unrelated-tables: a proxy for "one feature per migration". Tables touched by the up
 * steps are grouped: two tables are related when the migration links them with a foreign key,
 * or when they share a name stem (the first snake_case word, plural s dropped: dialogs and
 * dialog_messages). More groups than `maxUnrelatedTables` is a warning.
 */
export function unrelatedTables(touched: ReadonlySet<string>, links: ReadonlyArray<[string, string]>, config: LintConfig): Finding | undefined {
  const tables = [...touched];
  if (tables.length <= config.maxUnrelatedTables) return undefined;
  const parent = new Map(tables.map((t) => [t, t]));
  const find = (t: string): string => {
    let root = t;
    while (parent.get(root) !== root) root = parent.get(root) ?? root;
    parent.set(t, root);
    return root;
  };
  const union = (a: string, b: string) => {
    if (parent.has(a) && parent.has(b)) parent.set(find(a), find(b));
  };
  for (const [a, b] of links) union(a, b);
  const byStem = new Map<string, string>();
  for (const t of tables) {
    const s = stem(t);
    const seen = byStem.get(s);
    if (seen) union(t, seen);
    else byStem.set(s, t);
  }
  const groups = new Map<string, string[]>();
  for (const t of tables) groups.set(find(t), [...(groups.get(find(t)) ?? []), display(t)]);
  if (groups.size <= config.maxUnrelatedTables) return undefined;
  const list = [...groups.values()].map((g) => g.sort().join('+')).sort();
  return {
    rule: 'feature/unrelated-tables',
    message: `the up steps touch ${groups.size} unrelated table groups (${list.join(', ')}); more than ${config.maxUnrelatedTables} suggests several features in one migration`,
    hint: 'split it into one migration per feature, so each can be reviewed, applied and rolled back on its own; or lint.disable this rule with the reason it is one feature',
  };
}

function stem(key: string): string {
  const name = key.slice(key.indexOf('.') + 1);
  const first = name.split('_')[0] ?? name;
  return first.length > 3 && first.endsWith('s') ? first.slice(0, -1) : first;
}

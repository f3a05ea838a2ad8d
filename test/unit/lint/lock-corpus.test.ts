import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveLintConfig } from '../../../lambdas/core/lint/config.ts';
import { isRuleId } from '../../../lambdas/core/lint/rules.ts';
import { lintSqlText } from '../../../lambdas/core/lint/sql-file.ts';

/**
 * The lock-safety corpus: the cases of Squawk's lock-safety rule tests and of strong_migrations'
 * dangerous PostgreSQL operations, rewritten as our own SQL (test/fixtures/lint/corpus). Each case
 * is a `-- case: NAME | bad: RULES` (caught when one of RULES fires), `| good` (no violation at all:
 * any error or warning is a false positive) or `| n/a: WHY` (not a lock-safety case here, said why);
 * `| squawk: …` notes where our verdict differs from Squawk's. Prints caught / false positives per
 * source rule, so the figures in the lint notes can be reproduced: npx vitest run test/unit/lint/lock-corpus.test.ts
 */
interface Case {
  source: string;
  name: string;
  kind: 'bad' | 'good' | 'n/a';
  rules: string[];
  reclassified: boolean;
  sql: string;
}

const root = 'test/fixtures/lint/corpus';
const config = resolveLintConfig({});

function cases(file: string, source: string): Case[] {
  const out: Case[] = [];
  let current: Case | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const header = /^-- case: (.+)$/.exec(line);
    if (header) {
      const [name, verdict, ...notes] = header[1]!.split(' | ').map((s) => s.trim());
      const kind = verdict!.startsWith('bad') ? 'bad' : verdict!.startsWith('good') ? 'good' : 'n/a';
      const rules = kind === 'bad' ? verdict!.slice('bad:'.length).split(',').map((r) => r.trim()) : [];
      current = { source, name: name!, kind, rules, reclassified: notes.some((n) => n.startsWith('squawk:')), sql: '' };
      out.push(current);
    } else if (current) {
      current.sql += `${line}\n`;
    }
  }
  return out;
}

const squawk = readdirSync(join(root, 'squawk')).sort().flatMap((f) => cases(join(root, 'squawk', f), basename(f, '.sql')));
const strong = cases(join(root, 'strong-migrations.sql'), 'strong_migrations');

interface Outcome {
  c: Case;
  fired: string[];
  ok: boolean;
}

async function judge(list: Case[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const c of list) {
    if (c.kind === 'n/a') continue;
    const fired: string[] = [...new Set((await lintSqlText(`${c.source}.sql`, c.sql, config)).map((v) => v.rule))].sort();
    out.push({ c, fired, ok: c.kind === 'bad' ? c.rules.some((r) => fired.includes(r)) : fired.length === 0 });
  }
  return out;
}

function table(title: string, outcomes: Outcome[], all: Case[]): string {
  const sources = [...new Set(all.map((c) => c.source))];
  const rows = sources.map((s) => {
    const mine = outcomes.filter((o) => o.c.source === s);
    const bad = mine.filter((o) => o.c.kind === 'bad');
    const good = mine.filter((o) => o.c.kind === 'good');
    const na = all.filter((c) => c.source === s && c.kind === 'n/a').length;
    return `${s.padEnd(46)} ${`${bad.filter((o) => o.ok).length}/${bad.length}`.padStart(7)} ${String(good.filter((o) => !o.ok).length).padStart(3)}/${String(good.length).padEnd(4)} ${String(na).padStart(4)}`;
  });
  const bad = outcomes.filter((o) => o.c.kind === 'bad');
  const good = outcomes.filter((o) => o.c.kind === 'good');
  const misses = [...bad.filter((o) => !o.ok), ...good.filter((o) => !o.ok)].map((o) => `  ${o.c.kind === 'bad' ? 'MISSED' : 'FALSE POSITIVE'} ${o.c.source}: ${o.c.name} (fired: ${o.fired.join(', ') || 'nothing'})`);
  return [
    `${title}`,
    `${'source rule'.padEnd(46)}  caught  FP/good  n/a`,
    ...rows,
    `${'total'.padEnd(46)} ${`${bad.filter((o) => o.ok).length}/${bad.length}`.padStart(7)} ${String(good.filter((o) => !o.ok).length).padStart(3)}/${String(good.length).padEnd(4)} ${String(all.filter((c) => c.kind === 'n/a').length).padStart(4)}`,
    `reclassified against Squawk's verdict: ${all.filter((c) => c.reclassified).length}`,
    ...misses,
  ].join('\n');
}

describe('lock-safety corpus', () => {
  it('every expected rule exists', () => {
    expect([...squawk, ...strong].flatMap((c) => c.rules).filter((r) => !isRuleId(r))).toEqual([]);
    expect(squawk.length).toBeGreaterThan(100);
  });

  it("Squawk's lock-safety cases: at most 2 applicable bad cases missed, no false positive on the good ones", async () => {
    const outcomes = await judge(squawk);
    console.log(table("Squawk's lock-safety rule tests, rewritten", outcomes, squawk));
    const bad = outcomes.filter((o) => o.c.kind === 'bad');
    expect(bad.filter((o) => !o.ok).length).toBeLessThanOrEqual(2);
    expect(outcomes.filter((o) => o.c.kind === 'good' && !o.ok).map((o) => `${o.c.source}: ${o.c.name}: ${o.fired.join(', ')}`)).toEqual([]);
  });

  it("strong_migrations' dangerous PostgreSQL operations: every one flagged, no safe twin flagged", async () => {
    const outcomes = await judge(strong);
    console.log(table("strong_migrations' PostgreSQL checks", outcomes, strong));
    expect(outcomes.filter((o) => o.c.kind === 'bad')).toHaveLength(19);
    expect(outcomes.filter((o) => !o.ok).map((o) => `${o.c.kind} ${o.c.name}: ${o.fired.join(', ')}`)).toEqual([]);
  });
});

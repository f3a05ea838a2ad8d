import { scan } from 'libpg-query';
import { lineAt } from './source-text.ts';

/**
 * `offpeak-lint-disable` directives, read from the comments PostgreSQL's own scanner finds, so a
 * directive-like text inside a string literal or a dollar-quoted body is never one:
 *   -- offpeak-lint-disable rule-id[, rule-id]: reason                 the whole file (in a step: the step)
 *   -- offpeak-lint-disable-next-statement rule-id[, rule-id]: reason  the statement that follows
 *   -- offpeak-lint-disable-line rule-id[, rule-id]: reason            the statement on this line
 * Block comments work too: /* offpeak-lint-disable-line rule: reason *\/.
 */
export type DirectiveScope = 'file' | 'next-statement' | 'line';

export interface Directive {
  scope: DirectiveScope;
  rules: string[];
  reason: string | undefined;
  /** 1-based line of the comment. */
  line: number;
}

const DIRECTIVE = /^(?:--|\/\*)\s*offpeak-lint-disable(-next-statement|-line)?(?![\w-])[ \t]*(.*?)\s*(?:\*\/)?$/s;

export async function readDirectives(text: string): Promise<Directive[]> {
  if (!text.includes('offpeak-lint-disable')) return [];
  const { tokens } = await scan(text);
  const bytes = Buffer.from(text, 'utf8');
  const out: Directive[] = [];
  for (const t of tokens) {
    if (t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT') continue;
    const comment = bytes.subarray(t.start, t.end).toString('utf8');
    const m = DIRECTIVE.exec(comment);
    if (!m) continue;
    const [rulesPart, ...reasonParts] = (m[2] ?? '').split(':');
    out.push({
      scope: m[1] === '-line' ? 'line' : m[1] === '-next-statement' ? 'next-statement' : 'file',
      rules: (rulesPart ?? '').split(',').map((r) => r.trim()).filter(Boolean),
      reason: reasonParts.join(':').trim() || undefined,
      line: lineAt(text, bytes.subarray(0, t.start).toString('utf8').length),
    });
  }
  return out;
}

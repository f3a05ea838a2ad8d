import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { END, START, renderRulesReference } from '../../../scripts/lint/rules-reference.ts';

/** docs/lint-rules.md carries the rules reference exactly as the code renders it. */
describe('docs/lint-rules.md', () => {
  it('matches the rule catalog and examples (run npx tsx scripts/lint/write-rules-reference.ts after changing them)', () => {
    const page = readFileSync('docs/lint-rules.md', 'utf8');
    const start = page.indexOf(START);
    const end = page.indexOf(END);
    expect(start, 'the page has the generated-reference markers').toBeGreaterThanOrEqual(0);
    expect(page.slice(start, end + END.length)).toBe(renderRulesReference());
  });
});

import { describe, expect, it } from 'vitest';
import { RULE_EXAMPLES, type Example } from '../../../lambdas/core/lint/rule-examples.ts';
import { RULES } from '../../../lambdas/core/lint/rules.ts';
import { lintExample } from './example-lint.ts';

/** Every example of the rules reference is a test: bad ones break their rule, good ones break nothing. */
const cases = RULES.flatMap((rule) => {
  const examples = RULE_EXAMPLES[rule.id];
  return [
    ...examples.bad.map((example, i) => ({ name: `${rule.id} bad ${i + 1}`, rule, example: example as Example, bad: true })),
    ...examples.good.map((example, i) => ({ name: `${rule.id} good ${i + 1}`, rule, example: example as Example, bad: false })),
  ];
});

describe('rule examples', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, { rule, example, bad }) => {
    // Act
    const violations = await lintExample(example);
    // Assess
    if (bad) {
      expect(violations.filter((v) => v.rule === rule.id).map((v) => v.severity)).toContain(rule.severity);
    } else {
      expect(violations.map((v) => `${v.rule}: ${v.message}`)).toEqual([]);
    }
  });

  it('every rule has a bad example, and a good one unless it says why none can exist', () => {
    for (const rule of RULES) {
      const examples = RULE_EXAMPLES[rule.id] as { bad: Example[]; good: Example[]; none?: string };
      expect(examples.bad.length, rule.id).toBeGreaterThan(0);
      expect(examples.good.length > 0 || Boolean(examples.none), rule.id).toBe(true);
    }
  });
});

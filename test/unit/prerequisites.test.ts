import { describe, expect, it } from 'vitest';
import { lacksIn } from '../support/prerequisites.ts';

describe('a missing test prerequisite', () => {
  const none = new Set<string>();

  it('skips locally, and does not skip what is there', () => {
    expect(lacksIn({ ci: false, absent: none }, 'postgresql', false)).toBe(true);
    expect(lacksIn({ ci: false, absent: none }, 'pgvector', true)).toBe(false);
    expect(lacksIn({ ci: true, absent: none }, 'pgvector', true)).toBe(false);
  });

  it('fails in CI, naming the prerequisite and how to provide or declare it', () => {
    expect(() => lacksIn({ ci: true, absent: none }, 'postgresql', false)).toThrow(/postgresql is missing, and CI does not skip .*set TEST_DATABASE_URL.*OFFPEAK_CI_ABSENT=postgresql/);
    expect(() => lacksIn({ ci: true, absent: new Set(['postgresql']) }, 'pgvector', false)).toThrow(/pgvector is missing.*OFFPEAK_CI_ABSENT=pgvector/);
  });

  it('skips in CI only where the pass declares it absent by design', () => {
    expect(lacksIn({ ci: true, absent: new Set(['pgvector']) }, 'pgvector', false)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { displayIdent } from '../../../lambdas/core/db/sql.ts';
import { dropSuggestion, restoreStatement } from '../../../lambdas/core/health/suggestion.ts';

describe('drop suggestion', () => {
  it('inserts CONCURRENTLY IF NOT EXISTS after INDEX, keeping UNIQUE', () => {
    expect(restoreStatement('CREATE UNIQUE INDEX idx_a ON public.t USING btree (a) WHERE (b IS NULL)'))
      .toBe('CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_a ON public.t USING btree (a) WHERE (b IS NULL)');
    expect(restoreStatement('CREATE INDEX "Idx ""x""" ON s.t USING gin (doc)'))
      .toBe('CREATE INDEX CONCURRENTLY IF NOT EXISTS "Idx ""x""" ON s.t USING gin (doc)');
  });

  it('quotes only the identifiers that need it', () => {
    expect(dropSuggestion('public', 'idx_a', 'CREATE INDEX idx_a ON public.t USING btree (a)').drop)
      .toBe('DROP INDEX CONCURRENTLY IF EXISTS public.idx_a');
    expect(displayIdent('Order')).toBe('"Order"');
    expect(displayIdent('select')).toBe('"select"');
    expect(displayIdent('idx_ünï')).toBe('"idx_ünï"');
  });

  it('refuses text that is not an index definition', () => {
    expect(() => restoreStatement('DROP TABLE t')).toThrow(/not an index definition/);
  });
});

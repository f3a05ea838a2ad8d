import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { createIndex, defineMigration, dropIndex, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { refusal as expectRefusal } from '../../support/refusal.ts';

const base = { revision: 'r1', downRevision: null, description: 'd', risk: 'low' as const };

const refusal = (fn: () => unknown): ValidationError => expectRefusal(ValidationError, fn);

describe('defineMigration', () => {
  it('refuses strong-lock DDL mixed with CONCURRENTLY work unless the migration says why', () => {
    // Prepare
    const up = [
      sqlStep('ALTER TABLE users ADD COLUMN nickname text', { tables: ['users'] }),
      createIndex({ name: 'idx_users_nickname', table: 'users', columns: ['nickname'] }),
    ];

    // Act
    const e = refusal(() => defineMigration({ ...base, up, down: { irreversible: 'test' } }));
    const allowed = defineMigration({ ...base, up, down: { irreversible: 'test' }, mixedLocking: { reason: 'tiny table, built in seconds' } });

    // Assess
    expect(e.message).toMatch(/migration "r1": up mixes strong-lock DDL with CONCURRENTLY work; split it into two migrations or set mixedLocking/);
    expect(e.message).toContain("strong: step 1; concurrent: step 2; a sqlStep without `lock` counts as 'strong'");
    expect(allowed.up).toHaveLength(2);
    expect(allowed.transactional.up).toBe(false);
  });

  it('needs a rollback plan above low risk', () => {
    const e = refusal(() => defineMigration({ ...base, risk: 'medium', up: [createIndex({ name: 'idx_a', table: 't', columns: ['a'] })] }));
    expect(e.message).toBe('migration "r1": a medium-risk migration needs a rollbackPlan');
  });

  it('derives the down of index builders in reverse order, concurrently and idempotently', () => {
    const m = defineMigration({
      ...base,
      up: [
        createIndex({ name: 'idx_a', table: 't', columns: ['a'] }),
        createIndex({ name: 'idx_b', table: 't', columns: ['b'], using: 'hnsw', with: { m: 16 } }),
      ],
    });
    expect(m.down.map((s) => s.sql)).toEqual([
      'DROP INDEX CONCURRENTLY IF EXISTS public.idx_b',
      'DROP INDEX CONCURRENTLY IF EXISTS public.idx_a',
    ]);
    expect(m.down.every((s) => s.mode === 'standalone' && s.lock === 'concurrent')).toBe(true);
  });

  it('refuses a derived down when a raw SQL step has no inverse', () => {
    const e = refusal(() => defineMigration({ ...base, up: [sqlStep('ALTER TABLE t ADD COLUMN c int', { tables: ['t'] })] }));
    expect(e.message).toMatch(/up step 1 \(ALTER TABLE t ADD COLUMN c int\) has no automatic inverse/);
  });
});

describe('index builders', () => {
  it('render every clause in PostgreSQL order', () => {
    const step = createIndex({
      name: 'idx_docs_embedding',
      schema: 'app',
      table: 'docs',
      columns: ['embedding vector_cosine_ops'],
      using: 'ivfflat',
      with: { lists: 100 },
      include: ['id'],
      where: 'deleted_at IS NULL',
      unique: false,
    });
    expect(step.sql).toBe(
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_docs_embedding ON app.docs USING ivfflat (embedding vector_cosine_ops) INCLUDE (id) WITH (lists = 100) WHERE deleted_at IS NULL',
    );
  });

  it('invert a drop that knows what it removes back into the create', () => {
    const restore = { name: 'idx_u', table: 'users', columns: ['lower(email)'], unique: true };
    const drop = dropIndex({ name: 'idx_u', table: 'users', restore });
    const m = defineMigration({ ...base, up: [drop] });
    expect(m.down[0]!.sql).toBe('CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_u ON public.users (lower(email))');
  });
});

import { describe, expect, it } from 'vitest';
import { MigrationGraphError } from '../../../lambdas/core/errors.ts';
import { MigrationGraph } from '../../../lambdas/core/migrations/graph.ts';
import { refusal as expectRefusal } from '../../support/refusal.ts';
import { checksum, fromModules } from '../../../lambdas/core/migrations/loader.ts';
import { createIndex, defineMigration, sqlStep, type Migration } from '../../../lambdas/core/migrations/model.ts';

const m = (revision: string, downRevision: string | string[] | null, extra: Partial<Parameters<typeof defineMigration>[0]> = {}): Migration =>
  defineMigration({ revision, downRevision, description: revision, risk: 'low', up: [sqlStep(`SELECT '${revision}'`)], down: [sqlStep('SELECT 1')], ...extra });

const build = (...ms: Migration[]) => MigrationGraph.build(fromModules(ms.map((x) => ({ file: `migrations/${x.revision}.ts`, migration: x }))));

const refusal = (fn: () => unknown): MigrationGraphError => expectRefusal(MigrationGraphError, fn);

describe('revision graph refusals name the files', () => {
  it('duplicate revision', () => {
    const e = refusal(() =>
      MigrationGraph.build(fromModules([{ file: 'migrations/a.ts', migration: m('r1', null) }, { file: 'migrations/b.ts', migration: m('r1', null) }])),
    );
    expect(e.message).toBe('duplicate revision r1: declared by both migrations/a.ts and migrations/b.ts');
  });

  it('missing down revision', () => {
    expect(refusal(() => build(m('r1', null), m('r2', 'gone'))).message).toContain('migrations/r2.ts: down revision gone does not exist');
  });

  it('a cycle', () => {
    const e = refusal(() => build(m('r1', 'r3'), m('r2', 'r1'), m('r3', 'r2')));
    expect(e.message).toMatch(/cycle in down revisions: .*migrations\/r\d\.ts/);
  });

  it('several heads when asked for head, but not with a merge', () => {
    const branched = build(m('r1', null), m('r2', 'r1'), m('r3', 'r1'));
    expect(refusal(() => branched.upgradeTargets('head', new Set())).message).toContain('several heads: migrations/r2.ts (r2), migrations/r3.ts (r3)');
    expect(branched.upgradeTargets('heads', new Set())).toEqual(['r1', 'r2', 'r3']);
    const merged = build(m('r1', null), m('r2', 'r1'), m('r3', 'r1'), m('r4', ['r2', 'r3']));
    expect(merged.heads()).toEqual(['r4']);
    expect(merged.upgradeTargets('head', new Set(['r1', 'r2']))).toEqual(['r3', 'r4']);
  });

  it('an applied revision whose file is gone, and a changed checksum', () => {
    const g = build(m('r1', null));
    expect(refusal(() => g.verifyLedger([{ revision: 'r0', checksum: 'x' }])).message).toContain('revision r0 is applied in the database but no migration file declares it');
    const e = refusal(() => g.verifyLedger([{ revision: 'r1', checksum: 'deadbeef' }]));
    expect(e.name).toBe('ChecksumMismatchError');
    expect(e.message).toContain('migrations/r1.ts (r1) changed after it was applied');
  });
});

describe('target resolution', () => {
  const g = build(m('202501010001', null), m('202501010002', '202501010001'), m('803b93aca2d2', '202501010002'), m('202501010004', '803b93aca2d2'));

  it('head, REV, unique prefix and +N going up', () => {
    expect(g.upgradeTargets('head', new Set())).toEqual(['202501010001', '202501010002', '803b93aca2d2', '202501010004']);
    expect(g.upgradeTargets('803b', new Set(['202501010001']))).toEqual(['202501010002', '803b93aca2d2']);
    expect(g.upgradeTargets('+2', new Set(['202501010001']))).toEqual(['202501010002', '803b93aca2d2']);
    expect(refusal(() => g.upgradeTargets('2025', new Set())).message).toContain('revision prefix 2025 is ambiguous');
    expect(refusal(() => g.upgradeTargets('+9', new Set())).message).toContain('only 4 migration(s) are pending');
  });

  it('REV, -N and base going down', () => {
    const all = new Set(g.order);
    expect(g.downgradeTargets('202501010002', all)).toEqual(['202501010004', '803b93aca2d2']);
    expect(g.downgradeTargets('-1', all)).toEqual(['202501010004']);
    expect(g.downgradeTargets('base', all)).toEqual(['202501010004', '803b93aca2d2', '202501010002', '202501010001']);
    expect(refusal(() => g.downgradeTargets('nope', all)).message).toContain('unknown revision nope');
    expect(refusal(() => g.downgradeTargets('202501010004', new Set(['202501010001']))).message).toContain('is not applied');
  });

  it('paths and ancestors', () => {
    expect(g.path('202501010001', '803b93aca2d2')).toEqual(['202501010002', '803b93aca2d2']);
    expect([...g.ancestors(['202501010002'])].sort()).toEqual(['202501010001', '202501010002']);
  });
});

describe('squash resolution', () => {
  it('points later migrations at the squash and treats fully applied originals as applied', () => {
    const squash = m('s1', null, { replaces: ['r1', 'r2'] });
    const g = build(m('r1', null), m('r2', 'r1'), squash, m('r3', 'r2'));
    expect(g.order).toEqual(['s1', 'r3']);
    expect(g.appliedState(['r1', 'r2'])).toMatchObject({ applied: new Set(['s1']), unrecordedSquashes: ['s1'] });
    expect(g.appliedState(['r1']).partial).toEqual(new Map([['s1', ['r1']]]));
    expect(() => g.verifyLedger([])).not.toThrow();
    const withoutOriginals = build(squash, m('r3', 'r2'));
    expect(withoutOriginals.order).toEqual(['s1', 'r3']);
    expect(() => withoutOriginals.verifyLedger([{ revision: 'r1', checksum: 'whatever' }])).not.toThrow();
  });
});

describe('checksum', () => {
  it('depends on what the migration does, not on its description or how it was built', () => {
    const a = m('r1', null, { up: [createIndex({ name: 'idx_a', table: 't', columns: ['a'] })] });
    const same = m('r1', null, { description: 'reworded', up: [createIndex({ name: 'idx_a', table: 't', columns: ['a'] }, { description: 'other words' })] });
    const different = m('r1', null, { up: [createIndex({ name: 'idx_a', table: 't', columns: ['b'] })] });
    expect(checksum(a)).toBe(checksum(same));
    expect(checksum(a)).not.toBe(checksum(different));
    expect(checksum(a)).toMatch(/^[0-9a-f]{64}$/);
    // Pinned: a change here re-flags every applied migration as tampered, so it must be deliberate.
    expect(checksum(m('r1', null))).toBe('00392d032cb1cb4faa98b1c7f12c7a8a565e9f128a7b6eee3a250d410744931a');
  });
});

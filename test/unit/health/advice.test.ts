import { describe, expect, it } from 'vitest';
import { computeAdvice, type Usage } from '../../../lambdas/core/health/advice.ts';
import { IndexFlag, type IndexFacts, type KeyElement } from '../../../lambdas/core/health/catalog.ts';

/** Index facts as the catalog query decodes them; only what the advice reads matters. */
function index(oid: number, name: string, keys: Array<string | Partial<KeyElement>>, extra: Partial<IndexFacts> & { include?: number[]; predicate?: string } = {}): IndexFacts {
  const { include = [], predicate = '', ...rest } = extra;
  return {
    oid, name, tableOid: 1, sizeBytes: 8192, idxScan: 0, idxTupRead: 0, idxTupFetch: 0, lastIdxScan: -1,
    flags: IndexFlag.valid | IndexFlag.ready | IndexFlag.btree, parentOid: 0, relpages: 1, estimatedPages: -1,
    baselineScans: 0, baselineAt: 0, historyStartAt: 0, resetSinceBaseline: false,
    signature: {
      am: 403,
      keys: keys.map((k) => ({ what: '1', opclass: '1978', collation: '0', option: 0, ...(typeof k === 'string' ? { what: k } : k) })),
      include,
      predicate,
    },
    definition: `CREATE INDEX ${name} ON public.t USING btree (x)`, restoreExtras: [], missingPartitions: [],
    ...rest,
  };
}

function usage(scans: Record<string, number>, indexes: IndexFacts[]): Map<number, Usage> {
  return new Map(indexes.map((i) => {
    const windowScans = scans[i.name] ?? 0;
    return [i.oid, {
      idxScan: windowScans, windowScans, verdict: windowScans > 0 ? 'used' : 'unused', sizeBytes: 0, historyStartAt: 0,
      resetSinceBaseline: false, baselineAt: 0, lastIdxScan: -1, idxTupRead: 0, idxTupFetch: 0,
    } satisfies Usage];
  }));
}

function advise(indexes: IndexFacts[], scans: Record<string, number>): Record<string, string> {
  const set = computeAdvice({ indexes, usage: usage(scans, indexes), droppable: (i) => i.name.startsWith('idx_') && (i.flags & IndexFlag.unique) === 0 });
  return Object.fromEntries([...set.drops.values()].map((d) => [d.index.name, d.cover ? `${d.reason} → ${d.cover.name}` : d.reason]));
}

describe('computeAdvice', () => {
  it('never drops a used index whose only cover is itself advised for drop (unused)', () => {
    const a = index(1, 'idx_a', ['1']);
    const ab = index(2, 'idx_a_b', ['1', '2']);
    expect(advise([a, ab], { idx_a: 60 })).toEqual({ idx_a_b: 'unused' });
    expect(advise([a, ab], { idx_a: 60, idx_a_b: 1 })).toEqual({ idx_a: 'overlapping → idx_a_b' });
  });

  it('keeps the most-scanned of equivalent indexes, the constraint-backing one first, and never an invalid one', () => {
    const x = index(1, 'idx_x', ['1']);
    const y = index(2, 'idx_y', ['1']);
    expect(advise([x, y], { idx_x: 1, idx_y: 9 })).toEqual({ idx_x: 'duplicate → idx_y' });
    const unique = index(3, 'orders_x_key', ['1'], { flags: IndexFlag.valid | IndexFlag.btree | IndexFlag.unique });
    expect(advise([x, y, unique], { idx_x: 5, idx_y: 9 })).toEqual({ idx_x: 'duplicate → orders_x_key', idx_y: 'duplicate → orders_x_key' });
    const invalid = index(4, 'idx_x_invalid', ['1'], { flags: IndexFlag.btree | IndexFlag.declaredUnique });
    expect(advise([x, invalid], { idx_x: 5 })).toEqual({ idx_x_invalid: 'invalid' });
  });

  it('treats (ts DESC) as (ts), and (a DESC, b) as (a, b DESC), but not (a DESC, b) as (a, b)', () => {
    expect(advise([index(1, 'idx_ts', ['1']), index(2, 'idx_ts_desc', [{ what: '1', option: 3 }])], { idx_ts: 5, idx_ts_desc: 1 }))
      .toEqual({ idx_ts_desc: 'duplicate → idx_ts' });
    const mixed = index(2, 'idx_mixed', [{ what: '1', option: 3 }, '2']);
    expect(advise([index(1, 'idx_ab_desc', ['1', { what: '2', option: 3 }]), mixed], { idx_ab_desc: 5, idx_mixed: 1 }))
      .toEqual({ idx_mixed: 'duplicate → idx_ab_desc' });
    expect(advise([index(1, 'idx_ab', ['1', '2']), mixed], { idx_ab: 5, idx_mixed: 1 })).toEqual({});
  });

  it('needs the cover to hold INCLUDE columns, the same predicate, opclass and collation', () => {
    const ab = index(1, 'idx_a_b', ['1', '2']);
    expect(advise([ab, index(2, 'idx_a_inc_c', ['1'], { include: [3] })], { idx_a_b: 5, idx_a_inc_c: 5 })).toEqual({});
    expect(advise([ab, index(2, 'idx_a_inc_b', ['1'], { include: [2] })], { idx_a_b: 5, idx_a_inc_b: 5 })).toEqual({ idx_a_inc_b: 'overlapping → idx_a_b' });
    expect(advise([ab, index(2, 'idx_a_part', ['1'], { predicate: 'abc' })], { idx_a_b: 5, idx_a_part: 5 })).toEqual({});
    expect(advise([index(1, 'idx_a_part_b', ['1', '2'], { predicate: 'abc' }), index(2, 'idx_a', ['1'])], { idx_a_part_b: 5, idx_a: 5 })).toEqual({});
    expect(advise([ab, index(2, 'idx_a_pattern', [{ what: '1', opclass: '10047' }])], { idx_a_b: 5, idx_a_pattern: 5 })).toEqual({});
    expect(advise([ab, index(2, 'idx_a_c', [{ what: '1', collation: '950' }])], { idx_a_b: 5, idx_a_c: 5 })).toEqual({});
  });

  it('compares expression lists element by element', () => {
    const lowerTitle = index(1, 'idx_lower', ['eabc']);
    const lowerTitleId = index(2, 'idx_lower_id', ['eabc', '1']);
    expect(advise([lowerTitle, lowerTitleId], { idx_lower: 5, idx_lower_id: 5 })).toEqual({ idx_lower: 'overlapping → idx_lower_id' });
    expect(advise([index(1, 'idx_upper', ['edef']), lowerTitleId], { idx_upper: 5, idx_lower_id: 5 })).toEqual({});
  });

  it('does not equate UNIQUE NULLS NOT DISTINCT with a plain unique index', () => {
    const flags = IndexFlag.valid | IndexFlag.btree | IndexFlag.declaredUnique;
    const nnd = index(1, 'idx_nnd', ['1'], { flags: flags | IndexFlag.nullsNotDistinct });
    const plain = index(2, 'idx_plain', ['1'], { flags });
    // the plain one cannot stand in for NULLS NOT DISTINCT, whatever the scans say
    expect(advise([nnd, plain], { idx_nnd: 1, idx_plain: 9 })).toEqual({});
    // the other way round it can: the NND one serves every lookup of the plain one
    expect(advise([nnd, plain], { idx_nnd: 9, idx_plain: 1 })).toEqual({ idx_plain: 'duplicate → idx_nnd' });
  });
});

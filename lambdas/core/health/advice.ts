import { IndexFlag, type IndexFacts, type IndexSignature, type KeyElement } from './catalog.ts';

/**
 * Drop advice as a set. Every drop is decided knowing every other one, so that applying the
 * whole advice at once is safe:
 * - an index that served lookups in the window is dropped only when a *retained* index covers it:
 *   valid, not itself dropped, same access method and predicate, its keys led by this one's keys
 *   element by element (column or expression, opclass, collation, direction), holding every
 *   INCLUDE column this one holds; non-btree indexes are covered only by an identical one;
 * - among equivalent indexes the one kept is the constraint-backing (or partition-attached) one,
 *   then the one with the most scans in the window, then the oldest;
 * - constraint-backing, replica-identity and foreign-key-support indexes are never dropped, so every
 *   foreign key keeps its supporting index;
 * - invalid and building indexes are never a cover.
 * Candidates are decided widest first, so a cover's own fate is known before anything leans on it.
 */

export type Verdict = 'used' | 'unused' | 'pending';

export interface Usage {
  idxScan: number;
  /** Scans in the window: since the baseline when there is one, else since statistics began. */
  windowScans: number;
  verdict: Verdict;
  sizeBytes: number;
  historyStartAt: number;
  /** The stats reset or counter drop that keeps a verdict away, if any. */
  resetSinceBaseline: boolean;
  baselineAt: number;
  lastIdxScan: number;
  idxTupRead: number;
  idxTupFetch: number;
}

export type DropReason = 'unused' | 'duplicate' | 'overlapping' | 'invalid';

export interface Decision {
  index: IndexFacts;
  reason: DropReason;
  /** The retained index that serves its lookups afterwards (duplicate, overlapping). */
  cover: IndexFacts | null;
}

export interface AdviceSet {
  /** Every index that goes, with why; keyed by oid. */
  drops: Map<number, Decision>;
  /** Covered indexes that stay only because the drop prefix excludes them. */
  coveredButKept: Map<number, IndexFacts>;
  usage: Map<number, Usage>;
}

const PINNED = IndexFlag.primary | IndexFlag.unique | IndexFlag.exclusion | IndexFlag.replicaIdentity | IndexFlag.foreignKey;

export function isPinned(index: IndexFacts): boolean {
  return (index.flags & PINNED) !== 0 || index.parentOid !== 0;
}

/**
 * Btree key elements as compared: an index scanned backwards serves the mirrored order, so an index
 * whose first key is DESC is compared with every key's direction and nulls order flipped
 * (`(ts DESC)` equals `(ts)`; `(a DESC, b)` equals `(a, b DESC)`).
 */
function normalizedKeys(signature: IndexSignature, btree: boolean): KeyElement[] {
  const mirror = btree && (signature.keys[0]?.option ?? 0) & 1;
  return mirror ? signature.keys.map((k) => ({ ...k, option: k.option ^ 3 })) : signature.keys;
}

function sameElement(a: KeyElement, b: KeyElement): boolean {
  return a.what === b.what && a.opclass === b.opclass && a.collation === b.collation && a.option === b.option;
}

interface Candidate {
  index: IndexFacts;
  keys: KeyElement[];
  btree: boolean;
  usage: Usage;
}

/** True when `cover` serves every lookup (and index-only scan) `index` serves, with the same rows. */
function covers(cover: Candidate, index: Candidate): boolean {
  const a = index.index.signature;
  const c = cover.index.signature;
  if (a.am !== c.am || a.predicate !== c.predicate || index.keys.length > cover.keys.length) return false;
  if ((index.index.flags & IndexFlag.nullsNotDistinct) && !(cover.index.flags & IndexFlag.nullsNotDistinct)) return false;
  if (!index.keys.every((k, n) => sameElement(k, cover.keys[n]!))) return false;
  if (!index.btree || !cover.btree) {
    return index.keys.length === cover.keys.length && a.include.length === c.include.length && a.include.every((x, n) => x === c.include[n]);
  }
  if (index.keys.length === cover.keys.length) return a.include.every((x) => c.include.includes(x));
  // A shorter key: every INCLUDE column must be stored in the cover, as a key or an INCLUDE column.
  const stored = new Set([...c.include.map(String), ...cover.keys.map((k) => k.what)]);
  return a.include.every((x) => stored.has(String(x)));
}

export interface AdviceInput {
  indexes: IndexFacts[];
  usage: Map<number, Usage>;
  /** Whether drop advice may name this index (prefix, not pinned). */
  droppable: (index: IndexFacts) => boolean;
}

export function computeAdvice(input: AdviceInput): AdviceSet {
  const drops = new Map<number, Decision>();
  const coveredButKept = new Map<number, IndexFacts>();
  const byTable = new Map<number, Candidate[]>();
  for (const index of input.indexes) {
    const usage = input.usage.get(index.oid)!;
    if (!(index.flags & IndexFlag.valid)) {
      if (!(index.flags & IndexFlag.building) && !(index.flags & IndexFlag.partitioned) && input.droppable(index)) {
        drops.set(index.oid, { index, reason: 'invalid', cover: null });
      }
      continue;
    }
    const btree = (index.flags & IndexFlag.btree) !== 0;
    const list = byTable.get(index.tableOid) ?? [];
    list.push({ index, keys: normalizedKeys(index.signature, btree), btree, usage });
    byTable.set(index.tableOid, list);
  }
  for (const list of byTable.values()) {
    // Widest first, so covers are decided before what they cover; among equals, the one to keep first.
    list.sort((x, y) =>
      y.keys.length - x.keys.length
      || y.index.signature.include.length - x.index.signature.include.length
      || Number(isPinned(y.index)) - Number(isPinned(x.index))
      || y.usage.windowScans - x.usage.windowScans
      || x.index.oid - y.index.oid);
    const retained: Candidate[] = [];
    for (const candidate of list) {
      const { index } = candidate;
      if (isPinned(index)) {
        retained.push(candidate);
        continue;
      }
      if (candidate.usage.verdict === 'unused' && input.droppable(index)) {
        drops.set(index.oid, { index, reason: 'unused', cover: null });
        continue;
      }
      const cover = retained.find((c) => covers(c, candidate));
      if (cover && input.droppable(index)) {
        const same = cover.keys.length === candidate.keys.length
          && cover.index.signature.include.length === index.signature.include.length;
        drops.set(index.oid, { index, reason: same ? 'duplicate' : 'overlapping', cover: cover.index });
        continue;
      }
      if (cover) coveredButKept.set(index.oid, cover.index);
      retained.push(candidate);
    }
  }
  return { drops, coveredButKept, usage: input.usage };
}

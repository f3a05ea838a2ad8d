/**
 * Index size models: pure arithmetic over an index's statistics (estimated entries, key widths, distinct keys),
 * following each access method's on-disk layout. Sizes are in bytes; a page is BLCKSZ (8 KiB).
 *
 * B-tree (nbtsort.c, the bulk build CREATE INDEX does):
 * - a tuple is IndexTupleData (8 bytes; 16 with a null bitmap) + the key and INCLUDE values, MAXALIGNed to 8,
 *   plus a 4-byte line pointer; short varlena values (under 127 bytes) keep their 1-byte header and no alignment;
 * - a page has a 24-byte header and 16 bytes of special space; leaf pages are filled to `fillfactor` (default 90),
 *   inner pages to 70 %, and every leaf but the rightmost carries a high key;
 * - deduplication (PG 13+) merges equal keys into posting lists (6 bytes per heap TID, a posting tuple at most
 *   10 % of a page during a build) unless the index is unique, has INCLUDE columns, `deduplicate_items = off`,
 *   or a key type has no "equal image" (numeric, float, jsonb, arrays, composites, ranges, nondeterministic
 *   collations);
 * - inner levels hold one pivot tuple (the key columns only: INCLUDE columns are truncated) per child page, up to
 *   a root; plus the metapage.
 * IVFFlat (pgvector): a metapage, list pages (one center vector per list), and entry pages holding one tuple
 * (8-byte header + the vector: 8 + 4 × dimensions bytes) per row, each list starting a page of its own.
 * HNSW (pgvector): per row an element tuple (72 bytes + the vector) and a neighbour tuple (6 bytes per neighbour:
 * 2m at level 0, m more per upper level, 1/(m-1) upper levels on average), kept on one page (checked on 10,000 rows).
 * GIN: rough, ±100 %: about 1.5 bytes per (key, row) posting entry (varbyte-compressed TIDs), keys per row from
 * pg_stats.elem_count_histogram (arrays, tsvector) or one per 8 bytes of the value; distinct key entries left out.
 * Hash, BRIN, GiST, SP-GiST: simple models, documented below, marked rough.
 */

export const PAGE = 8192;
const PAGE_HEADER = 24;
const BTREE_SPECIAL = 16;
const PGVECTOR_SPECIAL = 8;
const LINE_POINTER = 4;
const INDEX_TUPLE_HEADER = 8;
const NULL_BITMAP = 4;
const TID = 6;
const BTREE_NONLEAF_FILLFACTOR = 70;
/** nbtsort.c: a posting list tuple built by CREATE INDEX is at most 10 % of a page (less its line pointer). */
const BUILD_MAX_POSTING = maxalignDown((PAGE * 10) / 100) - LINE_POINTER;
/** A sort tuple's overhead in memory: SortTuple (24 bytes) + the palloc chunk header (8). */
const SORT_TUPLE_OVERHEAD = 32;

export function maxalign(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function maxalignDown(n: number): number {
  return Math.floor(n / 8) * 8;
}

/** One key or INCLUDE value of an index entry. */
export interface IndexItem {
  /** Average stored width in bytes of a non-null value (pg_stats.avg_width, or measured). */
  width: number;
  /** Fraction of entries where it is null. */
  nullFrac: number;
  /** pg_type.typlen: -1 varlena, -2 cstring, else fixed. */
  typlen: number;
  /** pg_type.typalign: c, s, i, d. */
  typalign: string;
  /** Its B-tree opclass supports deduplication (equal image). */
  dedupable: boolean;
  /** Distinct elements per row (arrays, tsvector; pg_stats.elem_count_histogram), for GIN. */
  elementsPerRow?: number;
}

export interface IndexShape {
  accessMethod: string;
  /** Index entries: the table's rows times the predicate's selectivity. */
  entries: number;
  /** Distinct key values among the entries (planner's GROUP BY estimate); null when unknown (no deduplication assumed). */
  distinctKeys: number | null;
  keys: IndexItem[];
  include: IndexItem[];
  unique: boolean;
  /** Storage parameters given in the migration (fillfactor, lists, m, deduplicate_items, pages_per_range). */
  options: Readonly<Record<string, string | number | boolean>>;
  /** The vector's dimensions (ivfflat, hnsw). */
  dimensions: number | null;
  /** The table's pages (BRIN). */
  tablePages: number;
}

export interface SizeEstimate {
  bytes: number;
  /** Bytes the build's sorts would write to temporary files with this maintenance_work_mem (0: sorts in memory). */
  tempBytes: number;
  /** How rough the model is for this access method (empty for the ones tested to ±25 % / ±50 %). */
  notes: string[];
  /**
   * True when the estimate is only an upper bound: entries wider than TOAST_INDEX_TARGET, which PostgreSQL
   * compresses on the way into the index (index_form_tuple), so compressible values make it many times smaller.
   */
  upperBound?: boolean;
}

/** heaptoast.h: TOAST_INDEX_TARGET is BLCKSZ / 16; a wider index entry has its varlena values compressed. */
const TOAST_INDEX_TARGET = PAGE / 16;

/**
 * Marks an estimate whose entries PostgreSQL would compress: the model counts them uncompressed, so it is an upper
 * bound (a 1,280-character repeated text made an index 27 times smaller than the uncompressed count).
 */
function withCompressionBound(shape: IndexShape, estimate: SizeEstimate): SizeEstimate {
  // pgvector's types are stored uncompressed (STORAGE external), hash keeps hash codes, GIN and BRIN summaries.
  if (['ivfflat', 'hnsw', 'hash', 'gin', 'brin'].includes(shape.accessMethod)) return estimate;
  const items = [...shape.keys, ...shape.include];
  if (!items.some((i) => i.typlen === -1) || INDEX_TUPLE_HEADER + dataWidth(items) <= TOAST_INDEX_TARGET) return estimate;
  return {
    ...estimate,
    upperBound: true,
    notes: [
      ...estimate.notes,
      `its entries average over ${TOAST_INDEX_TARGET} bytes, which PostgreSQL compresses in the index: the size and time are upper bounds (compressible values can make it many times smaller)`,
    ],
  };
}

const ALIGN: Record<string, number> = { c: 1, s: 2, i: 4, d: 8 };

/** The average data bytes of the items laid out in one tuple. */
export function dataWidth(items: readonly IndexItem[]): number {
  let offset = 0;
  for (const item of items) {
    const present = 1 - item.nullFrac;
    if (present <= 0) continue;
    if (item.typlen === -1 && item.width < 127) {
      offset += item.width * present; // short varlena header: no alignment
      continue;
    }
    const align = ALIGN[item.typalign] ?? 4;
    offset = Math.ceil(offset / align) * align + item.width * present;
  }
  return offset;
}

/** The average MAXALIGNed size of an index tuple holding `items` (a null bitmap when any may be null). */
function tupleSize(items: readonly IndexItem[], extra = 0): number {
  const data = dataWidth(items) + extra;
  const anyNull = 1 - items.reduce((p, i) => p * (1 - Math.min(1, Math.max(0, i.nullFrac))), 1);
  return (1 - anyNull) * maxalign(INDEX_TUPLE_HEADER + data) + anyNull * maxalign(INDEX_TUPLE_HEADER + NULL_BITMAP + data);
}

const numberOption = (options: IndexShape['options'], name: string, fallback: number): number => {
  const v = Number(options[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

function dedupEnabled(shape: IndexShape): boolean {
  const flag = shape.options['deduplicate_items'];
  const off = flag === false || (typeof flag === 'string' && /^(off|false|no|0)$/i.test(flag));
  return !off && !shape.unique && shape.include.length === 0 && shape.keys.every((k) => k.dedupable);
}

/** Leaf bytes (tuples + line pointers) of one group of `r` equal keys, deduplicated into posting lists. */
function postingGroupBytes(base: number, r: number): number {
  const perPosting = Math.max(1, Math.floor((BUILD_MAX_POSTING - base) / TID));
  const tuples = Math.ceil(r / perPosting);
  // Each posting tuple: the key tuple, its TIDs, MAXALIGN slop (4 bytes on average), a line pointer.
  return tuples * (base + LINE_POINTER + 4) + r * TID;
}

export function btreeSize(shape: IndexShape, maintenanceWorkMem: number): SizeEstimate {
  const n = Math.max(0, shape.entries);
  const fillfactor = numberOption(shape.options, 'fillfactor', 90);
  const leafTuple = tupleSize([...shape.keys, ...shape.include]);
  const keyTuple = tupleSize(shape.keys);
  let leafBytes = n * (leafTuple + LINE_POINTER);
  const d = shape.distinctKeys;
  if (dedupEnabled(shape) && d !== null && d > 0 && d < n) {
    const r = n / d;
    const single = leafTuple + LINE_POINTER;
    // Groups of one stay plain tuples; between 1 and 2 rows per key, blend (some keys repeat, some do not).
    const perGroup = r >= 2 ? postingGroupBytes(keyTuple, r) : single + (r - 1) * (postingGroupBytes(keyTuple, 2) - single);
    leafBytes = Math.min(leafBytes, d * perGroup);
  }
  const usable = PAGE - PAGE_HEADER - BTREE_SPECIAL;
  const leafRoom = usable - Math.floor((PAGE * (100 - fillfactor)) / 100) - (keyTuple + LINE_POINTER); // less the high key
  const leafPages = Math.max(1, Math.ceil(leafBytes / leafRoom));
  // Pivots carry the key columns only; with duplicate keys, a heap TID too.
  const pivot = keyTuple + (d !== null && d < n ? 8 : 0) + LINE_POINTER;
  const innerRoom = usable - Math.floor((PAGE * (100 - BTREE_NONLEAF_FILLFACTOR)) / 100);
  const perInner = Math.max(2, Math.floor(innerRoom / pivot));
  let level = leafPages;
  let inner = 0;
  while (level > 1) {
    level = Math.ceil(level / perInner);
    inner += level;
  }
  const bytes = (1 + leafPages + inner) * PAGE;
  // The build sorts every entry as a whole tuple (before deduplication); CONCURRENTLY's validation sorts one 8-byte TID per entry.
  const sortMemory = n * (leafTuple + SORT_TUPLE_OVERHEAD);
  const buildSpill = sortMemory > maintenanceWorkMem ? n * (leafTuple + LINE_POINTER) : 0;
  const validateSpill = n * (8 + SORT_TUPLE_OVERHEAD) > maintenanceWorkMem ? n * 8 : 0;
  return { bytes, tempBytes: Math.max(buildSpill, validateSpill), notes: [] };
}

/** pgvector's stored vector: varlena header 4 + dim 2 + unused 2 + 4 per dimension (1-byte header when under 127 bytes). */
function vectorBytes(dimensions: number): number {
  const size = 8 + 4 * dimensions;
  return size < 127 ? size - 3 : size;
}

export function ivfflatSize(shape: IndexShape, maintenanceWorkMem: number): SizeEstimate {
  const n = Math.max(0, shape.entries);
  const dims = shape.dimensions ?? 0;
  const lists = numberOption(shape.options, 'lists', 100);
  const room = PAGE - PAGE_HEADER - PGVECTOR_SPECIAL;
  const entry = maxalign(INDEX_TUPLE_HEADER + vectorBytes(dims)) + LINE_POINTER;
  const perPage = Math.max(1, Math.floor(room / entry));
  // Each non-empty list starts a page: on average half a page of slack per list.
  const usedLists = Math.min(lists, n);
  const entryPages = Math.ceil(n / perPage + usedLists / 2);
  const center = maxalign(8 + 8 + 4 * dims) + LINE_POINTER;
  const listPages = Math.ceil(lists / Math.max(1, Math.floor(room / center)));
  const bytes = (1 + listPages + entryPages) * PAGE;
  const sortTuple = maxalign(INDEX_TUPLE_HEADER + 4 + vectorBytes(dims));
  const tempBytes = n * (sortTuple + SORT_TUPLE_OVERHEAD) > maintenanceWorkMem ? n * sortTuple : 0;
  const notes: string[] = [];
  const sample = Math.min(n, lists * 50) * (8 + 4 * dims);
  if (sample > maintenanceWorkMem) {
    notes.push(`its k-means sample needs about ${Math.ceil(sample / 1048576)} MiB of maintenance_work_mem (set it higher, or the build fails)`);
  }
  return { bytes, tempBytes, notes };
}

export function hnswSize(shape: IndexShape, maintenanceWorkMem: number): SizeEstimate {
  const n = Math.max(0, shape.entries);
  const dims = shape.dimensions ?? 0;
  const m = numberOption(shape.options, 'm', 16);
  const element = maxalign(72 + vectorBytes(dims));
  const neighbours = maxalign(4 + TID * (2 * m + m / Math.max(1, m - 1)));
  const perRow = element + neighbours + 2 * LINE_POINTER;
  const perPage = Math.max(1, Math.floor((PAGE - PAGE_HEADER - PGVECTOR_SPECIAL) / perRow));
  const bytes = (1 + Math.ceil(n / perPage)) * PAGE;
  const notes: string[] = [];
  // The graph is built in memory while it fits maintenance_work_mem; past that pgvector goes on on disk, much slower.
  if (n * (perRow + 2 * m * 8) > maintenanceWorkMem) notes.push('its graph will not fit maintenance_work_mem: pgvector builds the rest on disk, much slower than estimated');
  return { bytes, tempBytes: 0, notes };
}

export function ginSize(shape: IndexShape): SizeEstimate {
  // One posting entry per (key, row): heap TIDs delta-encoded in varbyte, about 1.5 bytes each in posting lists
  // and trees; keys per row from the element statistics, else a guess of one per 8 bytes of the value. The key
  // entries themselves (one per distinct element) are left out: unknown here, and small beside the postings
  // unless keys are nearly unique per row.
  const n = Math.max(0, shape.entries);
  const perRow = shape.keys.reduce((sum, k) => sum + (1 - k.nullFrac) * (k.elementsPerRow ?? Math.max(1, k.width / 8)), 0);
  const postings = n * perRow * 1.5;
  const pages = 2 + Math.ceil(postings / ((PAGE - PAGE_HEADER - 8) * 0.9));
  return { bytes: pages * PAGE, tempBytes: 0, notes: ['GIN size is rough (±100 %): it depends on the keys per row and how many are distinct'] };
}

function hashSize(shape: IndexShape): SizeEstimate {
  // A tuple holds the 4-byte hash code; buckets are a power of two filled to fillfactor (default 75).
  const n = Math.max(0, shape.entries);
  const fillfactor = numberOption(shape.options, 'fillfactor', 75);
  const perPage = Math.floor(((PAGE - PAGE_HEADER - 16) * fillfactor) / 100 / (maxalign(INDEX_TUPLE_HEADER + 4) + LINE_POINTER));
  const buckets = 2 ** Math.ceil(Math.log2(Math.max(2, n / Math.max(1, perPage))));
  return { bytes: (buckets + 2) * PAGE, tempBytes: 0, notes: ['hash index size is rough'] };
}

function brinSize(shape: IndexShape): SizeEstimate {
  // One summary tuple (~ 32 bytes per key column) per pages_per_range (default 128) heap pages, a revmap, a metapage.
  const ranges = Math.ceil(shape.tablePages / numberOption(shape.options, 'pages_per_range', 128));
  const perTuple = 8 + 32 * Math.max(1, shape.keys.length);
  const pages = 1 + Math.ceil(ranges / 1360) + Math.ceil((ranges * perTuple) / (PAGE - PAGE_HEADER));
  return { bytes: Math.max(3, pages) * PAGE, tempBytes: 0, notes: ['BRIN size is rough'] };
}

/** The model for the index's access method; GiST and SP-GiST (and anything else) as a B-tree without deduplication, rough. */
export function estimateSize(shape: IndexShape, maintenanceWorkMem: number): SizeEstimate {
  return withCompressionBound(shape, modelSize(shape, maintenanceWorkMem));
}

function modelSize(shape: IndexShape, maintenanceWorkMem: number): SizeEstimate {
  switch (shape.accessMethod) {
    case 'btree':
      return btreeSize(shape, maintenanceWorkMem);
    case 'ivfflat':
      return ivfflatSize(shape, maintenanceWorkMem);
    case 'hnsw':
      return hnswSize(shape, maintenanceWorkMem);
    case 'gin':
      return ginSize(shape);
    case 'hash':
      return hashSize(shape);
    case 'brin':
      return brinSize(shape);
    default: {
      const like = btreeSize({ ...shape, distinctKeys: null }, maintenanceWorkMem);
      return { ...like, notes: [`${shape.accessMethod} size is rough (modelled as a B-tree without deduplication)`] };
    }
  }
}

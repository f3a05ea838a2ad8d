import { SEVERITIES, type Finding, type IndexUsageRow, type Severity } from './report.ts';
import { computeAdvice, isPinned, type AdviceSet, type Usage, type Verdict } from './advice.ts';
import { IndexFlag, type IndexFacts, type TableFacts } from './catalog.ts';
import type { HealthOptions } from './options.ts';
import { staleness } from './stale.ts';
import { displayIdent } from '../db/sql.ts';
import { dropSuggestion } from './suggestion.ts';

/**
 * The checks, computed in memory from the facts the catalog queries returned.
 * Everything here is pure: same facts and options, same findings.
 */

export interface CheckInput {
  tables: TableFacts[];
  indexes: IndexFacts[];
  options: HealthOptions;
  /** pg_stat_database.stats_reset, or null when never reset. */
  statsResetAt: Date | null;
  blockSize: number;
  now: Date;
}

const DAY = 86_400;

export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

function age(seconds: number): string {
  if (seconds < 3600) return `${Math.max(0, Math.floor(seconds / 60))} min`;
  if (seconds < 2 * DAY) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / DAY)} days`;
}

/** Which constraint (if any) an index enforces or backs; such indexes never get drop advice. */
function protectedBy(flags: number): string | null {
  if (flags & IndexFlag.primary) return 'the primary key';
  if (flags & IndexFlag.exclusion) return 'an exclusion constraint';
  if (flags & IndexFlag.unique) return 'uniqueness';
  if (flags & IndexFlag.replicaIdentity) return 'the replica identity';
  if (flags & IndexFlag.foreignKey) return "a foreign key's referencing columns";
  return null;
}

/**
 * Usage per index. A partitioned index has no counters of its own: PostgreSQL counts the scans on
 * its partitions' indexes, so its usage is theirs, summed (recursively); it has a verdict only when
 * every one of them has history.
 */
function usageByIndex(input: CheckInput): Map<number, Usage> {
  const children = new Map<number, IndexFacts[]>();
  for (const index of input.indexes) {
    if (index.parentOid !== 0) children.set(index.parentOid, [...(children.get(index.parentOid) ?? []), index]);
  }
  const windowStart = input.now.getTime() / 1000 - input.options.unusedDays * DAY;
  const leaves = (index: IndexFacts): IndexFacts[] => {
    const below = children.get(index.oid);
    return below === undefined || below.length === 0 ? [index] : below.flatMap(leaves);
  };
  const result = new Map<number, Usage>();
  for (const index of input.indexes) {
    const parts = leaves(index);
    const sum = (f: (i: IndexFacts) => number) => parts.reduce((acc, i) => acc + f(i), 0);
    const withBaseline = parts.every((i) => i.baselineAt >= 0 && !i.resetSinceBaseline);
    const idxScan = sum((i) => i.idxScan);
    const lastIdxScan = Math.max(...parts.map((i) => i.lastIdxScan));
    const windowScans = withBaseline ? sum((i) => Math.max(0, i.idxScan - i.baselineScans)) : idxScan;
    let verdict: Verdict;
    if (windowScans > 0 || lastIdxScan >= windowStart) verdict = 'used';
    else verdict = withBaseline ? 'unused' : 'pending';
    const starts = parts.map((i) => i.historyStartAt);
    result.set(index.oid, {
      idxScan,
      windowScans,
      verdict,
      sizeBytes: sum((i) => i.sizeBytes),
      historyStartAt: starts.some((t) => t < 0) ? -1 : Math.max(...starts),
      resetSinceBaseline: parts.some((i) => i.resetSinceBaseline),
      baselineAt: withBaseline ? Math.max(...parts.map((i) => i.baselineAt)) : -1,
      lastIdxScan,
      idxTupRead: sum((i) => i.idxTupRead),
      idxTupFetch: sum((i) => i.idxTupFetch),
    });
  }
  return result;
}

const PARTITIONED_DROP_NOTE = ' It is a partitioned index: PostgreSQL cannot drop it CONCURRENTLY, so the plain DROP INDEX takes an ACCESS EXCLUSIVE lock on the partitioned table and every partition (blocking reads and writes) until it commits; run it in a quiet window. The restore builds it on every partition under a SHARE lock (writes wait).';

class FindingBuilder {
  readonly findings: Finding[] = [];
  readonly pending: IndexFacts[] = [];
  private readonly tables: Map<number, TableFacts>;
  private readonly byOid: Map<number, IndexFacts>;

  constructor(private readonly input: CheckInput, readonly advice: AdviceSet) {
    this.tables = new Map(input.tables.map((t) => [t.oid, t]));
    this.byOid = new Map(input.indexes.map((i) => [i.oid, i]));
  }

  table(index: IndexFacts): TableFacts | undefined {
    return this.tables.get(index.tableOid);
  }

  nameOf(oid: number): string {
    return this.byOid.get(oid)?.name ?? `index ${oid}`;
  }

  usage(index: IndexFacts): Usage {
    return this.advice.usage.get(index.oid)!;
  }

  /** What serves the lookups of a dropped index afterwards, in one line. */
  afterwards(index: IndexFacts, table: TableFacts): string {
    const decision = this.advice.drops.get(index.oid);
    if (decision?.cover) return `lookups go to ${displayIdent(table.schema)}.${displayIdent(decision.cover.name)}, which stays`;
    if (decision?.reason === 'unused') return `no scans in the ${this.input.options.unusedDays}-day window: no lookup to move`;
    return 'it served no query (invalid): nothing to move';
  }

  /** Why an index the checks would drop gets no advice. */
  whyKept(index: IndexFacts): string {
    const guard = protectedBy(index.flags);
    if (guard) return ` It backs ${guard}, so it stays.`;
    if (index.parentOid !== 0) return ` It is attached to partitioned index ${this.nameOf(index.parentOid)}; advice goes to that one.`;
    if (!index.name.startsWith(this.input.options.dropPrefix)) return ` No drop advice: only ${this.input.options.dropPrefix}* indexes get it.`;
    return '';
  }

  /** Adds an index finding; the suggestion is the advice set's, when the set drops this index. */
  index(index: IndexFacts, kind: Finding['kind'], severity: Severity, evidence: string, advised: boolean): void {
    const table = this.table(index);
    if (!table) return;
    let suggestion: Finding['suggestion'] = null;
    let note = '';
    const partitioned = (index.flags & IndexFlag.partitioned) !== 0;
    if (advised && index.definition !== null) {
      suggestion = { ...dropSuggestion(table.schema, index.name, index.definition, { partitioned, extras: index.restoreExtras }), afterwards: this.afterwards(index, table) };
      if (partitioned) note = PARTITIONED_DROP_NOTE;
    } else {
      note = this.whyKept(index);
    }
    this.findings.push({
      kind,
      severity,
      schema: table.schema,
      table: table.table,
      index: index.name,
      sizeBytes: partitioned ? this.usage(index).sizeBytes : index.sizeBytes,
      evidence: evidence + note,
      suggestion,
    });
  }
}

function checkInvalid(b: FindingBuilder, index: IndexFacts): boolean {
  if (index.flags & IndexFlag.valid) return false;
  // A build in progress is invalid until it finishes: not a defect.
  if (index.flags & IndexFlag.building) return true;
  if (index.flags & IndexFlag.partitioned) {
    const missing = index.missingPartitions;
    const list = missing.length > 0 ? missing.join(', ') : 'none directly (a sub-partition lacks its index)';
    b.index(index, 'invalid', 'critical',
      `INVALID partitioned index: not every partition has an index attached to it, so it serves no query. Partitions missing one: ${list}. ` +
      `Fix it without a long lock: CREATE INDEX CONCURRENTLY a matching index on each, then ALTER INDEX ${b.table(index)?.schema ?? ''}.${index.name} ATTACH PARTITION <that index>; it turns valid once every partition has one.`,
      false);
    return true;
  }
  const unique = (index.flags & IndexFlag.declaredUnique) !== 0;
  const create = `CREATE ${unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY`;
  const what = index.flags & IndexFlag.ready
    ? `INVALID but ready: a failed or interrupted ${create} or REINDEX left it; it is maintained on every write${unique ? ' (and checks new rows for uniqueness)' : ''} but serves no query.`
    : `INVALID and not ready: a ${create} failed before building it; it ${unique ? 'enforces nothing, ' : ''}costs nothing on writes and serves no query.`;
  b.index(index, 'invalid', 'critical', what, b.advice.drops.has(index.oid));
  return true;
}

function checkUnused(b: FindingBuilder, index: IndexFacts, input: CheckInput): void {
  if (isPinned(index)) return; // PK, unique, FK support: 0 scans is expected, they must stay; partitions: see the parent
  const usage = b.usage(index);
  if (usage.verdict === 'used') return;
  if (usage.verdict === 'pending') {
    // No verdict yet: history too young, or a reset wiped the counters inside the window. Not a finding.
    b.pending.push(index);
    return;
  }
  const now = input.now.getTime() / 1000;
  const last = usage.lastIdxScan >= 0 ? `; last scan ${isoSeconds(usage.lastIdxScan)}` : '';
  const parts = index.flags & IndexFlag.partitioned ? ', summed over its partitions\' indexes,' : '';
  b.index(index, 'unused', 'warning',
    `0 scans${parts} in ${age(now - usage.baselineAt)} of snapshots (since ${isoSeconds(usage.baselineAt)}, no stats reset)${last}; on the writer.`,
    b.advice.drops.has(index.oid));
}

function checkRedundant(b: FindingBuilder, index: IndexFacts): void {
  const decision = b.advice.drops.get(index.oid);
  const cover = decision?.cover ?? b.advice.coveredButKept.get(index.oid) ?? null;
  if (cover === null) return;
  const same = decision
    ? decision.reason === 'duplicate'
    : cover.signature.keys.length === index.signature.keys.length && cover.signature.include.length === index.signature.include.length;
  const scans = b.usage(index).windowScans;
  const served = scans > 0 ? ` Its ${scans} scans in the window go to ${cover.name} afterwards.` : '';
  if (same) {
    b.index(index, 'duplicate', 'warning',
      `Identical to ${cover.name} (same columns, INCLUDE, opclasses, collations, directions, expressions and predicate), which is kept.${served}`,
      decision !== undefined);
  } else {
    b.index(index, 'overlapping', 'warning',
      `Its key columns lead ${cover.name} (same predicate, every INCLUDE column held), which is kept and serves the same lookups.${served}`,
      decision !== undefined);
  }
}

function checkSize(b: FindingBuilder, index: IndexFacts, input: CheckInput): void {
  if (index.flags & IndexFlag.partitioned) return; // no storage of its own: its partitions' indexes are checked
  const { options } = input;
  const table = b.table(index);
  if (!table) return;
  const ratio = table.tableBytes > 0 ? index.sizeBytes / table.tableBytes : Infinity;
  if (index.sizeBytes >= options.oversizedAbsoluteBytes) {
    b.index(index, 'oversized', 'warning',
      `${formatBytes(index.sizeBytes)}, over the ${formatBytes(options.oversizedAbsoluteBytes)} limit (table ${formatBytes(table.tableBytes)}).`, false);
  } else if (index.sizeBytes >= options.oversizedMinBytes && ratio > options.oversizedRatio) {
    b.index(index, 'oversized', 'warning',
      `${formatBytes(index.sizeBytes)} is ${ratio === Infinity ? 'larger than its empty table' : `${ratio.toFixed(1)}× its table (${formatBytes(table.tableBytes)})`}; check its columns, or REINDEX CONCURRENTLY if bloated.`,
      false);
  }
  if (index.estimatedPages > 0 && index.relpages > index.estimatedPages) {
    const waste = (index.relpages - index.estimatedPages) * input.blockSize;
    const share = waste / (index.relpages * input.blockSize);
    if (share >= options.bloatRatio && waste >= options.bloatMinBytes) {
      b.index(index, 'bloated', 'warning',
        `About ${formatBytes(waste)} (${Math.round(share * 100)} %) of its ${index.relpages} pages is estimated free (expected ${index.estimatedPages} pages from pg_stats); REINDEX INDEX CONCURRENTLY reclaims it.`,
        false);
    }
  }
}

export interface CheckResult {
  findings: Finding[];
  advice: AdviceSet;
  /** Indexes with no usage verdict yet: not findings. */
  pending: IndexFacts[];
}

export function runChecksWithAdvice(input: CheckInput): CheckResult {
  const usage = usageByIndex(input);
  const droppable = (index: IndexFacts) =>
    !isPinned(index) && index.name.startsWith(input.options.dropPrefix) && index.definition !== null;
  const advice = computeAdvice({ indexes: input.indexes, usage, droppable });
  const b = new FindingBuilder(input, advice);
  for (const index of input.indexes) {
    if (checkInvalid(b, index)) continue;
    const reason = advice.drops.get(index.oid)?.reason;
    if (reason === undefined || reason === 'unused') checkUnused(b, index, input);
    if (reason !== 'unused') checkRedundant(b, index);
    checkSize(b, index, input);
  }
  for (const table of input.tables) {
    for (const fk of table.foreignKeysWithoutIndex) {
      b.findings.push({
        kind: 'fk_without_index',
        severity: 'warning',
        schema: table.schema,
        table: table.table,
        index: null,
        sizeBytes: null,
        evidence: `Foreign key ${fk.name} (${fk.columns}) → ${fk.references} leads no index: every delete or key update on ${fk.references} scans ${table.table}.`,
        suggestion: null,
      });
    }
    const stale = staleness(table, input.options);
    if (stale) {
      b.findings.push({
        kind: 'stale_stats',
        severity: 'info',
        schema: table.schema,
        table: table.table,
        index: null,
        sizeBytes: null,
        evidence: `Statistics stale: ${stale.detail}. offpeak analyze queues it.`,
        suggestion: null,
      });
    }
  }
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  const findings = b.findings.sort((x, y) => rank(x.severity) - rank(y.severity) || (y.sizeBytes ?? 0) - (x.sizeBytes ?? 0));
  return { findings, advice, pending: b.pending };
}

/** The seed's two monitoring views, limited to `viewLimit` rows each. */
export interface MonitoringViews {
  usage: IndexUsageRow[];
  unusedBySize: IndexUsageRow[];
  /** Rows each view had before the `viewLimit` cut, so renderers can say "top 100 of 8,000". */
  usageTotal: number;
  unusedTotal: number;
}

// The order String#localeCompare gives, without building a collator per comparison (10,000 rows).
const byName = new Intl.Collator();

export function monitoringViews(input: CheckInput): MonitoringViews {
  const tables = new Map(input.tables.map((t) => [t.oid, t]));
  const rows: IndexUsageRow[] = [];
  for (const index of input.indexes) {
    const table = tables.get(index.tableOid);
    if (!table || !index.name.startsWith(input.options.dropPrefix)) continue;
    rows.push({
      schema: table.schema,
      table: table.table,
      index: index.name,
      idxScan: index.idxScan,
      idxTupRead: index.idxTupRead,
      idxTupFetch: index.idxTupFetch,
      sizeBytes: index.sizeBytes,
    });
  }
  const limit = input.options.viewLimit;
  const unused = rows.filter((r) => r.idxScan === 0);
  return {
    usage: [...rows].sort((a, b) => b.idxTupRead - a.idxTupRead || byName.compare(a.index, b.index)).slice(0, limit),
    unusedBySize: unused.sort((a, b) => b.sizeBytes - a.sizeBytes).slice(0, limit),
    usageTotal: rows.length,
    unusedTotal: unused.length,
  };
}

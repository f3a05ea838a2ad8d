import { SEVERITIES, type Finding, type IndexUsageRow, type Severity } from './report.ts';
import { IndexFlag, type IndexFacts, type TableFacts } from './catalog.ts';
import type { HealthOptions } from './options.ts';
import { staleness } from './stale.ts';
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
const PROTECTED = IndexFlag.primary | IndexFlag.unique | IndexFlag.exclusion | IndexFlag.replicaIdentity | IndexFlag.foreignKey;

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

class FindingBuilder {
  readonly findings: Finding[] = [];
  private readonly tables: Map<number, TableFacts>;
  private readonly names: Map<number, string>;

  constructor(private readonly input: CheckInput) {
    this.tables = new Map(input.tables.map((t) => [t.oid, t]));
    this.names = new Map(input.indexes.map((i) => [i.oid, i.name]));
  }

  table(index: IndexFacts): TableFacts | undefined {
    return this.tables.get(index.tableOid);
  }

  nameOf(oid: number): string {
    return this.names.get(oid) ?? `index ${oid}`;
  }

  /** Adds an index finding; `advise` asks for drop advice, given only where every rule allows it. */
  index(index: IndexFacts, kind: Finding['kind'], severity: Severity, evidence: string, advise: boolean): void {
    const table = this.table(index);
    if (!table) return;
    let suggestion: Finding['suggestion'] = null;
    let note = '';
    if (advise) {
      const guard = protectedBy(index.flags);
      if (guard) note = ` It backs ${guard}, so it stays.`;
      else if (!index.name.startsWith(this.input.options.dropPrefix)) {
        note = ` No drop advice: only ${this.input.options.dropPrefix}* indexes get it.`;
      } else if (index.definition === null || / ON ONLY /.test(index.definition)) {
        note = ' No drop advice: indexes of partitioned tables cannot be dropped concurrently.';
      } else suggestion = dropSuggestion(table.schema, index.name, index.definition);
    }
    this.findings.push({
      kind,
      severity,
      schema: table.schema,
      table: table.table,
      index: index.name,
      sizeBytes: index.sizeBytes,
      evidence: evidence + note,
      suggestion,
    });
  }
}

function checkInvalid(b: FindingBuilder, index: IndexFacts): boolean {
  if (index.flags & IndexFlag.valid) return false;
  // A build in progress is invalid until it finishes: not a defect.
  if (index.flags & IndexFlag.building) return true;
  b.index(index, 'invalid', 'critical',
    'INVALID: a failed or interrupted CREATE INDEX CONCURRENTLY left it; it slows every write and serves no query.', true);
  return true;
}

function checkUnused(b: FindingBuilder, index: IndexFacts, input: CheckInput): void {
  if (index.flags & PROTECTED) return; // PK, unique, FK support: 0 scans is expected, they must stay
  const now = input.now.getTime() / 1000;
  const windowStart = now - input.options.unusedDays * DAY;
  if (index.lastIdxScan >= windowStart) return;
  const days = input.options.unusedDays;
  const hasBaseline = index.baselineAt >= 0 && !index.resetSinceBaseline;
  if (hasBaseline) {
    if (index.idxScan > index.baselineScans) return;
    const last = index.lastIdxScan >= 0 ? `; last scan ${isoSeconds(index.lastIdxScan)}` : '';
    b.index(index, 'unused', 'warning',
      `0 scans in ${age(now - index.baselineAt)} of snapshots (since ${isoSeconds(index.baselineAt)}, no stats reset)${last}; on the writer.`,
      true);
    return;
  }
  if (index.idxScan > 0) return;
  // No verdict: history too young, or a reset wiped the counters inside the window.
  const reset = input.statsResetAt ? Math.floor(input.statsResetAt.getTime() / 1000) : -1;
  const since = Math.max(reset, index.historyStartAt);
  const origin = since < 0 ? 'since statistics began' : `since ${isoSeconds(since)}, ${age(now - since)}`;
  const why = index.resetSinceBaseline || (reset >= 0 && reset > windowStart)
    ? `a stats reset falls inside the ${days}-day window`
    : `snapshot history is shorter than ${days} days`;
  b.index(index, 'unused', 'info', `0 scans ${origin}; no verdict yet: ${why}.`, false);
}

function checkRedundant(b: FindingBuilder, index: IndexFacts): void {
  if (index.duplicateKeeper !== index.oid) {
    b.index(index, 'duplicate', 'warning',
      `Identical to ${b.nameOf(index.duplicateKeeper)} (same columns, opclasses, collations, expressions and predicate).`, true);
    return;
  }
  if (index.coveredBy !== 0) {
    b.index(index, 'overlapping', 'warning',
      `Its key columns lead ${b.nameOf(index.coveredBy)} (same predicate), which serves the same lookups.`, true);
  }
}

function checkSize(b: FindingBuilder, index: IndexFacts, input: CheckInput): void {
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

export function runChecks(input: CheckInput): Finding[] {
  const b = new FindingBuilder(input);
  for (const index of input.indexes) {
    if (checkInvalid(b, index)) continue;
    checkRedundant(b, index);
    checkUnused(b, index, input);
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
  return b.findings.sort((x, y) => rank(x.severity) - rank(y.severity) || (y.sizeBytes ?? 0) - (x.sizeBytes ?? 0));
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

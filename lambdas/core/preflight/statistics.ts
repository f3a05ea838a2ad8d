/**
 * What pre-flight reads about one index a migration would build, through the SqlClient (reads only, each one
 * idempotent and small): the table's statistics, the planner's row and group estimates, and the widths of the
 * key and INCLUDE items. Turned into an `IndexShape` for layout.ts.
 *
 * - Entries: the planner's row estimate for `SELECT 1 FROM t [WHERE predicate]` (EXPLAIN (FORMAT JSON)). It
 *   scales reltuples to the table's current size and applies the predicate's selectivity. For a table never
 *   ANALYZEd (reltuples -1) the planner only guesses from pages and default type widths, so the rows (matching
 *   the predicate) are counted on a block sample of about 300 pages (TABLESAMPLE SYSTEM) and scaled up.
 * - Distinct keys (for B-tree deduplication): the planner's group estimate for `GROUP BY <keys>`; an expression
 *   without statistics is estimated from the columns it reads. Unknown (no deduplication assumed, so the
 *   estimate errs large) on a table never ANALYZEd.
 * - Widths: `pg_stats.avg_width` and `null_frac` of plain columns; expressions, and columns without statistics,
 *   measured on a block sample (TABLESAMPLE SYSTEM, about 5,000 rows) with pg_column_size.
 */
import type { SqlExecutor } from '../db/client.ts';
import { quoteIdent, sql, SqlQuery } from '../db/sql.ts';
import { DatabaseError } from '../errors.ts';
import type { CreateIndexStep } from '../migrations/model.ts';
import type { IndexItem, IndexShape } from './layout.ts';

export interface IndexReading {
  shape: IndexShape;
  /** The table does not exist (yet: an earlier unit of the plan makes it). */
  tableMissing: boolean;
  /** The index already exists and is valid: its build will be skipped (IF NOT EXISTS). */
  alreadyBuilt: boolean;
  maintenanceWorkMem: number;
  warnings: string[];
}

const SAMPLE_ROWS = 5000;
/** Pages counted to estimate the rows of a table never ANALYZEd. */
const SAMPLE_PAGES = 300;
/** Types whose B-tree opclass has no "equal image" support: no deduplication (PostgreSQL docs, btree-deduplication). */
const NO_DEDUP_TYPES = new Set(['numeric', 'float4', 'float8', 'jsonb', 'json', 'money', 'interval']);
const NO_DEDUP_CATEGORIES = new Set(['A', 'C', 'R']);

interface ItemText {
  expression: string;
  /** The plain column it names (folded as PostgreSQL folds it), or undefined for an expression. */
  column: string | undefined;
}

/** A key item as written in the migration, less its ordering and opclass: what a SELECT can evaluate. */
export function itemText(written: string): ItemText {
  let text = written.trim();
  text = text.replace(/\s+NULLS\s+(FIRST|LAST)\s*$/i, '').replace(/\s+(ASC|DESC)\s*$/i, '');
  // An operator class (every built-in and pgvector one ends in _ops), perhaps schema-qualified.
  text = text.replace(/\s+(?:[A-Za-z_][\w$]*\.)?[A-Za-z_][\w$]*_ops\s*$/i, '').trim();
  const plain = /^[A-Za-z_][\w$]*$/.exec(text);
  if (plain) return { expression: text, column: text.toLowerCase() };
  const quoted = /^"((?:[^"]|"")+)"$/.exec(text);
  if (quoted) return { expression: text, column: quoted[1]!.replace(/""/g, '"') };
  return { expression: text, column: undefined };
}

/** The root plan's row estimate of an EXPLAIN (FORMAT JSON) result. */
export function planRows(rows: ReadonlyArray<Record<string, unknown>>): number {
  const value = rows[0] ? Object.values(rows[0])[0] : undefined;
  const doc = (typeof value === 'string' ? JSON.parse(value) : value) as Array<{ Plan?: { 'Plan Rows'?: number } }> | undefined;
  const n = doc?.[0]?.Plan?.['Plan Rows'];
  if (typeof n !== 'number') throw new DatabaseError('EXPLAIN (FORMAT JSON) returned no Plan Rows');
  return n;
}

async function explainRows(client: SqlExecutor, query: string): Promise<number> {
  const { rows } = await client.query<Record<string, unknown>>(new SqlQuery([`EXPLAIN (FORMAT JSON) ${query}`]).idempotent());
  return planRows(rows);
}

interface ColumnRow {
  name: string;
  typmod: number;
  typlen: number;
  typalign: string;
  typname: string;
  typcategory: string;
  deterministic: boolean;
  avg_width: number | null;
  null_frac: number | null;
  /** Average distinct elements per row (arrays, tsvector): the last entry of pg_stats.elem_count_histogram. */
  elements: number | null;
}

interface TableRow {
  found: boolean;
  reltuples: number | null;
  relpages: number | null;
  table_bytes: number | null;
  mwm: number;
  index_valid: boolean | null;
}

function dedupable(type: { typname: string; typcategory: string }, deterministic = true): boolean {
  return deterministic && !NO_DEDUP_TYPES.has(type.typname) && !NO_DEDUP_CATEGORIES.has(type.typcategory);
}

/** Reads what layout.ts needs to size the index `step` builds. */
export async function readIndex(client: SqlExecutor, step: CreateIndexStep): Promise<IndexReading> {
  const spec = step.index;
  const table = `${quoteIdent(spec.schema)}.${quoteIdent(spec.table)}`;
  const indexName = `${quoteIdent(spec.schema)}.${quoteIdent(spec.name)}`;
  const warnings: string[] = [];
  const accessMethod = (spec.using ?? 'btree').toLowerCase();
  const options = spec.with ?? {};
  const { rows: t } = await client.query<TableRow>(sql`
    SELECT c.oid IS NOT NULL AS found, c.reltuples::float8 AS reltuples, c.relpages::int AS relpages,
           CASE WHEN c.oid IS NOT NULL THEN pg_relation_size(c.oid)::float8 END AS table_bytes,
           pg_size_bytes(current_setting('maintenance_work_mem'))::float8 AS mwm,
           (SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(${indexName})) AS index_valid
    FROM (SELECT 1) AS one LEFT JOIN pg_class c ON c.oid = to_regclass(${table})`.idempotent());
  const info = t[0]!;
  const empty: IndexShape = { accessMethod, entries: 0, distinctKeys: null, keys: [], include: [], unique: spec.unique ?? false, options, dimensions: null, tablePages: 0 };
  if (!info.found) {
    return { shape: empty, tableMissing: true, alreadyBuilt: false, maintenanceWorkMem: info.mwm, warnings };
  }
  if (info.index_valid === true) return { shape: empty, tableMissing: false, alreadyBuilt: true, maintenanceWorkMem: info.mwm, warnings };

  const tablePages = Math.ceil((info.table_bytes ?? 0) / 8192);
  // PG 14+: -1 until the first VACUUM or ANALYZE; before 14, 0 with pages on disk.
  const neverAnalyzed = (info.reltuples ?? -1) < 0 || (info.reltuples === 0 && tablePages > 0);
  // ANALYZEd and empty: pg_stats has no row for any column, and ANALYZE cannot add one; the index is a few pages.
  const emptyTable = !neverAnalyzed && info.reltuples === 0 && tablePages === 0;
  const where = spec.where ? ` WHERE ${spec.where}` : '';
  let entries: number;
  if (neverAnalyzed) {
    // The planner would guess rows from the pages and default type widths (32 bytes a text): count a block sample instead.
    const percent = Math.min(100, (100 * SAMPLE_PAGES) / Math.max(1, tablePages));
    const { rows } = await client.query<{ n: number }>(
      new SqlQuery([`SELECT count(*)${spec.where ? ` FILTER (WHERE ${spec.where})` : ''}::float8 AS n FROM ${table} TABLESAMPLE SYSTEM (${percent})`]).idempotent(),
    );
    entries = Math.round(((rows[0]?.n ?? 0) * 100) / percent);
    warnings.push(
      `${spec.schema}.${spec.table} has never been ANALYZEd: rows counted on a ${Number(percent.toFixed(2))} % block sample of its ${tablePages} pages, ` +
        `column widths measured on a sample; run ANALYZE for a better estimate`,
    );
  } else {
    entries = await explainRows(client, `SELECT 1 FROM ${table}${where}`);
  }

  const { rows: columns } = await client.query<ColumnRow>(sql`
    SELECT a.attname AS name, a.atttypmod AS typmod, ty.typlen::int AS typlen, ty.typalign::text AS typalign, ty.typname::text AS typname,
           ty.typcategory::text AS typcategory, coalesce(co.collisdeterministic, true) AS deterministic,
           s.avg_width::int AS avg_width, s.null_frac::float8 AS null_frac,
           s.elem_count_histogram[array_length(s.elem_count_histogram, 1)]::float8 AS elements
    FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
      LEFT JOIN pg_collation co ON co.oid = a.attcollation
      LEFT JOIN pg_stats s ON s.schemaname = ${spec.schema} AND s.tablename = ${spec.table} AND s.attname = a.attname AND NOT s.inherited
    WHERE a.attrelid = to_regclass(${table}) AND a.attnum > 0 AND NOT a.attisdropped`.idempotent());
  const byName = new Map(columns.map((c) => [c.name, c]));

  const written = [...spec.columns, ...(spec.include ?? [])];
  const items = written.map(itemText);
  // Measure what the statistics do not give: expressions, and columns without pg_stats.
  const measure = items.map((it, i) => ({ it, i })).filter(({ it }) => !it.column || byName.get(it.column)?.avg_width == null);
  const measured = new Map<number, { type: { typlen: number; typalign: string; typname: string; typcategory: string } | null; width: number | null; nullFrac: number | null }>();
  if (measure.length) {
    const percent = Math.min(100, Math.max(0.01, (100 * SAMPLE_ROWS) / Math.max(1, entries)));
    const read = async (pct: number) => {
      const list = measure.map(({ it, i }) => `${it.expression} AS e${i}`).join(', ');
      const selects = measure
        .map(
          ({ i }) =>
            `(SELECT row_to_json(tp) FROM (SELECT typlen::int AS typlen, typalign::text AS typalign, typname::text AS typname, typcategory::text AS typcategory FROM pg_type WHERE oid = pg_typeof(ty.e${i})) tp) AS t${i}, ` +
            `(SELECT avg(pg_column_size(x.e${i}))::float8 FROM sample x) AS w${i}, (SELECT avg((x.e${i} IS NULL)::int)::float8 FROM sample x) AS n${i}`,
        )
        .join(', ');
      const text =
        `WITH sample AS (SELECT ${list} FROM ${table} TABLESAMPLE SYSTEM (${pct})${where}), typed AS (SELECT ${list} FROM ${table} LIMIT 0) ` +
        `SELECT ${selects} FROM (SELECT 1) AS one LEFT JOIN typed ty ON true`;
      const { rows } = await client.query<Record<string, unknown>>(new SqlQuery([text]).withJsonRows().idempotent());
      return rows[0]!;
    };
    let row = await read(percent);
    if (entries > 0 && measure.some(({ i }) => row[`w${i}`] == null) && percent < 100) row = await read(100);
    for (const { i } of measure) {
      const rawType = row[`t${i}`];
      const type = (typeof rawType === 'string' ? JSON.parse(rawType) : rawType) as { typlen: number; typalign: string; typname: string; typcategory: string } | null;
      measured.set(i, { type, width: (row[`w${i}`] as number | null) ?? null, nullFrac: (row[`n${i}`] as number | null) ?? null });
    }
  }

  let dimensions: number | null = null;
  const toItem = (it: ItemText, i: number): IndexItem => {
    const column = it.column ? byName.get(it.column) : undefined;
    if (column && column.avg_width != null) {
      if (column.typname === 'vector' && column.typmod > 0) dimensions ??= column.typmod;
      return {
        width: column.avg_width,
        nullFrac: column.null_frac ?? 0,
        typlen: column.typlen,
        typalign: column.typalign,
        dedupable: dedupable(column, column.deterministic),
        ...(column.elements != null ? { elementsPerRow: column.elements } : {}),
      };
    }
    const m = measured.get(i);
    const type = m?.type ?? (column ? { typlen: column.typlen, typalign: column.typalign, typname: column.typname, typcategory: column.typcategory } : null);
    if (column && !emptyTable) warnings.push(`${spec.schema}.${spec.table}.${column.name} has no statistics (pg_stats): its width was measured on a sample; run ANALYZE`);
    let width = m?.width ?? (type && type.typlen > 0 ? type.typlen : 16);
    // An expression's value carries a 4-byte varlena header; stored in the index, a short one keeps 1 byte.
    if (!column && type?.typlen === -1 && m?.width != null && width - 3 < 127) width -= 3;
    if (type?.typname === 'vector') dimensions ??= column && column.typmod > 0 ? column.typmod : Math.max(0, Math.round((width - (width < 127 ? 5 : 8)) / 4));
    if (!m?.width && !column && !emptyTable) warnings.push(`index ${spec.name}: no rows to measure ${it.expression} on; assumed ${width} bytes`);
    return { width, nullFrac: m?.nullFrac ?? 0, typlen: type?.typlen ?? -1, typalign: type?.typalign ?? 'i', dedupable: type ? dedupable(type, column?.deterministic ?? true) : false };
  };
  const all = items.map(toItem);
  const keys = all.slice(0, spec.columns.length);
  const include = all.slice(spec.columns.length);

  let distinctKeys: number | null = null;
  if (accessMethod === 'btree' && !neverAnalyzed && entries > 0) {
    try {
      distinctKeys = await explainRows(client, `SELECT 1 FROM ${table}${where} GROUP BY ${items.slice(0, spec.columns.length).map((it) => it.expression).join(', ')}`);
    } catch (error) {
      if (!(error instanceof DatabaseError)) throw error;
      warnings.push(`index ${spec.name}: the planner could not estimate its distinct keys (${error.message}); no deduplication assumed`);
    }
  }
  return {
    shape: { accessMethod, entries, distinctKeys, keys, include, unique: spec.unique ?? false, options, dimensions, tablePages },
    tableMissing: false,
    alreadyBuilt: false,
    maintenanceWorkMem: info.mwm,
    warnings,
  };
}

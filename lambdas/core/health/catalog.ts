import type { SqlExecutor } from '../db/client.ts';
import { sql, type SqlQuery } from '../db/sql.ts';
import { indexIdentityHash, ledgerTable, ledgerTableName } from './ledger.ts';
import { fetchAllPages, rowBytesLowerBound, type PageOptions } from './paginate.ts';

/**
 * The catalog reads behind the report: one small context query, then two paginated
 * family queries (tables, indexes) that return every fact the checks need. No
 * statement is issued per table or per index.
 *
 * To keep 10,000 indexes within a few sub-1 MiB pages, the numeric facts of a row
 * travel as one space-separated text field (`f`) rather than a dozen Data API fields,
 * each of which costs ~20 bytes of JSON envelope. `decode*` below is the only reader.
 */

export interface CatalogContext {
  database: string;
  statsResetAt: Date | null;
  serverVersionNum: number;
  blockSize: number;
  hasSnapshots: boolean;
  hasMigrationTables: boolean;
  hasAnalyzeLog: boolean;
}

export async function readContext(client: SqlExecutor, ledgerSchema: string): Promise<CatalogContext> {
  const { rows } = await client.query<{
    database: string;
    stats_reset: Date | null;
    version_num: number;
    block_size: number;
    has_snapshots: boolean;
    has_migration_tables: boolean;
    has_analyze_log: boolean;
  }>(sql`SELECT current_database() AS database,
      (SELECT d.stats_reset FROM pg_stat_database d WHERE d.datname = current_database()) AS stats_reset,
      current_setting('server_version_num')::int AS version_num,
      current_setting('block_size')::int AS block_size,
      to_regclass(${ledgerTableName(ledgerSchema, 'snapshots')}::text) IS NOT NULL AS has_snapshots,
      to_regclass(${ledgerTableName(ledgerSchema, 'migrationTables')}::text) IS NOT NULL AS has_migration_tables,
      to_regclass(${ledgerTableName(ledgerSchema, 'analyzeLog')}::text) IS NOT NULL AS has_analyze_log`);
  const row = rows[0]!;
  return {
    database: row.database,
    statsResetAt: row.stats_reset,
    serverVersionNum: Number(row.version_num),
    blockSize: Number(row.block_size),
    hasSnapshots: row.has_snapshots,
    hasMigrationTables: row.has_migration_tables,
    hasAnalyzeLog: row.has_analyze_log,
  };
}

/** Schemas the checks look at: user schemas, without the ledger's own tables. */
export function userSchemaFilter(alias: string, ledgerSchema: string): SqlQuery {
  const nsp = sql`${sql.raw(alias)}.nspname`;
  return sql`${nsp} NOT IN ('information_schema', ${ledgerSchema}) AND ${nsp} !~ '^pg_'`;
}

/** An epoch (whole seconds) or -1, so it packs as an integer. */
function epoch(expr: SqlQuery): SqlQuery {
  return sql`coalesce(floor(extract(epoch FROM ${expr}))::bigint, -1)`;
}

/**
 * True when a partial index's predicate still serves every lookup a foreign key makes: no predicate,
 * or `(col IS NOT NULL)` on one of the key's columns (a referencing row with a NULL key points at
 * nothing, so the partial index holds every row a parent's DELETE or UPDATE has to find). Any
 * other predicate leaves rows out, so the index does not support the key.
 */
function servesForeignKey(predicate: SqlQuery, conrelid: SqlQuery, conkey: SqlQuery): SqlQuery {
  return sql`(${predicate} IS NULL OR ${predicate} IN (SELECT format('(%s IS NOT NULL)', quote_ident(a.attname))
      FROM pg_attribute a WHERE a.attrelid = ${conrelid} AND a.attnum = ANY (${conkey})))`;
}

/** True when index `x`'s leading key columns are exactly the set `conkey` (any order, as FK lookups need). */
function leadsWith(x: string, conkey: SqlQuery): SqlQuery {
  // The slice bound is parenthesized: `:name` right after a colon would read as a Data API parameter.
  const lead = sql`(${sql.raw(x)}.indkey::int2[])[0:(least(cardinality(${conkey}), ${sql.raw(x)}.indnkeyatts) - 1)]`;
  return sql`(${lead} @> ${conkey} AND ${lead} <@ ${conkey})`;
}

// ---------------------------------------------------------------- tables

export interface ForeignKeyWithoutIndex {
  name: string;
  /** Referencing columns, quoted, comma-separated. */
  columns: string;
  /** The referenced table, as regclass text. */
  references: string;
}

export interface TableFacts {
  oid: number;
  schema: string;
  table: string;
  tableBytes: number;
  /** -1 when the table has never been vacuumed or analyzed. */
  reltuples: number;
  modsSinceAnalyze: number;
  /** Epoch seconds of the last ANALYZE (manual, auto, or logged by offpeak), -1 when unknown. */
  lastAnalyzedAt: number;
  /** Epoch seconds of the last applied migration that touched the table, -1 when none recorded. */
  lastMigrationAt: number;
  foreignKeysWithoutIndex: ForeignKeyWithoutIndex[];
}

function tablesFamily(context: CatalogContext, ledgerSchema: string): SqlQuery {
  const migration = context.hasMigrationTables
    ? sql`LEFT JOIN (SELECT m.schema_name, m.table_name, max(m.applied_at) AS applied_at
          FROM ${ledgerTable(ledgerSchema, 'migrationTables')} m GROUP BY 1, 2) m
        ON m.schema_name = n.nspname AND m.table_name = c.relname`
    : sql`LEFT JOIN (SELECT NULL::timestamptz AS applied_at) m ON false`;
  // Our own log counts too: statistics counters (last_analyze) are lost on a crash, a failover,
  // or when PGlite reopens, while the log is durable.
  const logged = context.hasAnalyzeLog
    ? sql`LEFT JOIN (SELECT l.schema_name, l.table_name, max(l.started_at) AS at
          FROM ${ledgerTable(ledgerSchema, 'analyzeLog')} l WHERE l.outcome IN ('analyzed', 'still_running') GROUP BY 1, 2) al
        ON al.schema_name = n.nspname AND al.table_name = c.relname`
    : sql`LEFT JOIN (SELECT NULL::timestamptz AS at) al ON false`;
  return sql`SELECT c.oid::bigint AS _k, n.nspname AS s, c.relname AS t,
      concat_ws(' ', pg_table_size(c.oid), greatest(c.reltuples, -1)::bigint, coalesce(st.n_mod_since_analyze, 0),
        ${epoch(sql`greatest(st.last_analyze, st.last_autoanalyze, al.at)`)}, ${epoch(sql`m.applied_at`)}) AS f,
      fk.list AS fk
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
    ${migration}
    ${logged}
    LEFT JOIN LATERAL (
      SELECT jsonb_agg(jsonb_build_array(k.conname, cols.list, k.confrelid::regclass::text) ORDER BY k.conname) AS list
      FROM pg_constraint k
      CROSS JOIN LATERAL (
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY u.ord) AS list
        FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) cols
      -- Once per constraint as the user declared it: a foreign key on (or to) a partitioned table has
      -- internal copies per partition (conparentid <> 0).
      WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.conparentid = 0
        AND NOT EXISTS (SELECT 1 FROM pg_index x
          WHERE x.indrelid = k.conrelid AND x.indisvalid AND ${leadsWith('x', sql`k.conkey`)}
            AND ${servesForeignKey(sql`pg_get_expr(x.indpred, x.indrelid)`, sql`k.conrelid`, sql`k.conkey`)})
        -- On a partitioned table, the key is supported when every leaf partition has an index that
        -- supports it (columns matched by name: a partition's column numbers may differ).
        AND NOT (c.relkind = 'p' AND NOT EXISTS (
          SELECT 1 FROM pg_partition_tree(k.conrelid) pt
          CROSS JOIN LATERAL (SELECT array_agg(pa.attnum)::int2[] AS conkey FROM unnest(k.conkey) u(n)
            JOIN pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = u.n
            JOIN pg_attribute pa ON pa.attrelid = pt.relid AND pa.attname = ca.attname) pk
          WHERE pt.isleaf AND NOT EXISTS (SELECT 1 FROM pg_index x
            WHERE x.indrelid = pt.relid AND x.indisvalid AND ${leadsWith('x', sql`pk.conkey`)}
              AND ${servesForeignKey(sql`pg_get_expr(x.indpred, x.indrelid)`, sql`pt.relid`, sql`pk.conkey`)})))
    ) fk ON true
    WHERE c.relkind IN ('r', 'm', 'p') AND ${userSchemaFilter('n', ledgerSchema)}`;
}

function numbers(packed: string): number[] {
  return packed.split(' ').map(Number);
}

function decodeTable(row: { _k: number; s: string; t: string; f: string; fk: unknown }): TableFacts {
  const [tableBytes, reltuples, mods, analyzed, migrated] = numbers(row.f);
  const list = (typeof row.fk === 'string' ? JSON.parse(row.fk) : row.fk) as [string, string, string][] | null;
  return {
    oid: Number(row._k),
    schema: row.s,
    table: row.t,
    tableBytes: tableBytes!,
    reltuples: reltuples!,
    modsSinceAnalyze: mods!,
    lastAnalyzedAt: analyzed!,
    lastMigrationAt: migrated!,
    foreignKeysWithoutIndex: (list ?? []).map(([name, columns, references]) => ({ name, columns, references })),
  };
}

export async function readTables(
  client: SqlExecutor,
  context: CatalogContext,
  ledgerSchema: string,
  page: PageOptions,
): Promise<{ tables: TableFacts[]; roundTrips: number }> {
  const result = await fetchAllPages<{ _k: number; s: string; t: string; f: string; fk: unknown }>(
    client,
    tablesFamily(context, ledgerSchema),
    [
      { name: 's', kind: 'text' },
      { name: 't', kind: 'text' },
      { name: 'f', kind: 'text' },
      { name: 'fk', kind: 'json' },
    ],
    page,
  );
  return { tables: result.rows.map(decodeTable), roundTrips: result.roundTrips };
}

// ---------------------------------------------------------------- indexes

export const IndexFlag = {
  valid: 1,
  /** A CREATE INDEX [CONCURRENTLY] / REINDEX on it (or its table) is in progress. */
  building: 2,
  /** Backs a primary key (valid indexes only: an invalid one enforces nothing). */
  primary: 4,
  /** A valid unique index. */
  unique: 8,
  /** Backs an exclusion constraint (valid only). */
  exclusion: 16,
  replicaIdentity: 32,
  /** The index offpeak keeps as the support of a foreign key's referencing columns. */
  foreignKey: 64,
  btree: 128,
  /** pg_index.indisready: maintained on writes (an invalid index may or may not be). */
  ready: 256,
  /** An index on a partitioned table (relkind 'I'): it has no storage; its partitions' indexes do the work. */
  partitioned: 512,
  /** UNIQUE NULLS NOT DISTINCT (PG15+). */
  nullsNotDistinct: 1024,
  /** pg_index.indisunique, valid or not. */
  declaredUnique: 2048,
} as const;

/** One key column of an index: what it indexes, and how. */
export interface KeyElement {
  /** A column number, or `e<hash>` of the expression as pg_get_indexdef prints it. */
  what: string;
  /** Operator class oid. */
  opclass: string;
  /** Collation oid (0 when not collatable). */
  collation: string;
  /** pg_index.indoption bits (1 DESC, 2 NULLS FIRST). */
  option: number;
}

export interface IndexSignature {
  /** Access method oid. */
  am: number;
  keys: KeyElement[];
  /** INCLUDE column numbers, ascending. */
  include: number[];
  /** Hash of the predicate, '' when none. */
  predicate: string;
}

export interface IndexFacts {
  oid: number;
  name: string;
  tableOid: number;
  sizeBytes: number;
  idxScan: number;
  idxTupRead: number;
  idxTupFetch: number;
  /** Epoch seconds (PG16+), -1 when never scanned or not available. */
  lastIdxScan: number;
  flags: number;
  /** The partitioned index this one is attached to (pg_inherits), 0 when none. */
  parentOid: number;
  relpages: number;
  /** Expected pages of a freshly built btree; -1 when it cannot be estimated. */
  estimatedPages: number;
  /** Scan counter in the newest snapshot at least `unusedDays` old, -1 when history is younger. */
  baselineScans: number;
  baselineAt: number;
  /** Oldest snapshot of this index identity, -1 when none. */
  historyStartAt: number;
  /** A stats reset (or counters going backwards) happened since the baseline. */
  resetSinceBaseline: boolean;
  signature: IndexSignature;
  /** pg_get_indexdef with its TABLESPACE, fetched only for indexes that may get drop advice. */
  definition: string | null;
  /** Statements that restore what pg_get_indexdef leaves out: comment, CLUSTER mark, column statistics. */
  restoreExtras: string[];
  /** For an invalid partitioned index: the partitions (qualified) with no index attached to it. */
  missingPartitions: string[];
}

export interface IndexQueryInput {
  context: CatalogContext;
  ledgerSchema: string;
  dropPrefix: string;
  /** Epoch seconds: snapshots at or before it can serve as the unused baseline. */
  baselineCutoff: number;
  /** Smaller indexes cannot be reported bloated, so their bloat is not estimated. */
  bloatMinBytes: number;
}

function historyJoin(input: IndexQueryInput): { join: SqlQuery; columns: SqlQuery } {
  if (!input.context.hasSnapshots) {
    return {
      join: sql``,
      columns: sql`NULL::bigint AS base_scans, NULL::timestamptz AS base_at, NULL::timestamptz AS first_at, false AS reset`,
    };
  }
  const snapshots = ledgerTable(input.ledgerSchema, 'snapshots');
  return {
    join: sql`LEFT JOIN LATERAL (
        SELECT h.idx_scan, h.taken_at FROM ${snapshots} h
        WHERE NOT x.protected AND h.index_oid = x.oid::bigint AND h.def_hash = x.ident
          AND h.taken_at <= to_timestamp(${input.baselineCutoff}::float8)
        ORDER BY h.taken_at DESC LIMIT 1) base ON true
      LEFT JOIN LATERAL (
        SELECT min(h.taken_at) AS first_at, coalesce(bool_or(h.stats_reset IS DISTINCT FROM cur.stats_reset), false) AS reset
        FROM ${snapshots} h
        WHERE NOT x.protected AND h.index_oid = x.oid::bigint AND h.def_hash = x.ident
          AND h.taken_at >= coalesce(base.taken_at, '-infinity')) hist ON true`,
    columns: sql`base.idx_scan AS base_scans, base.taken_at AS base_at, hist.first_at,
      coalesce(hist.reset OR cur.stats_reset > base.taken_at OR coalesce(su.idx_scan, 0) < base.idx_scan, false) AS reset`,
  };
}

/**
 * One page of the index family. The per-table work every row depends on (duplicates,
 * coverage, foreign-key support) runs over the whole catalog, but it reads catalogs
 * only. The costly columns (pg_relation_size, pg_get_indexdef, snapshot history, the
 * pg_stats width) are computed only for `page`: the rows after the cursor whose
 * running *lower bound* of wire size still fits the page. Every row of the exact cut
 * the paginator makes is in it (a lower bound never exceeds the estimate it bounds),
 * so pages are the same as computing every row, without redoing the costly part for
 * the rows of later pages. `page` is MATERIALIZED so the planner cannot push the
 * costly joins below the cut.
 */
function indexesFamily(input: IndexQueryInput, after: number, page: PageOptions): SqlQuery {
  const { context, ledgerSchema } = input;
  // Rows that may get advice carry their restore text `d`: droppable by name and not protected
  // (attached partition indexes are advised through their parent), or an invalid partitioned index.
  const wantsDefinition = (x: string) =>
    sql`((starts_with(${sql.raw(x)}.name, ${input.dropPrefix}::text) AND NOT ${sql.raw(x)}.protected AND ${sql.raw(x)}.parent = 0)
      OR (${sql.raw(x)}.partitioned AND NOT ${sql.raw(x)}.valid))`;
  // A lower bound of a row's wire size from what is known before the costly work: the key, the
  // name, the packed facts with every number not yet known at its shortest (one digit) and the
  // signature, and the definition when the row gets one: at least "CREATE INDEX <name> ON <table> USING  ()".
  const pageBound = rowBytesLowerBound(sql`x.oid::bigint`, [
    sql`x.name`,
    sql`concat_ws(' ', x.toid, 0, 0, 0, 0, 0, 0, x.parent, x.relpages, 0, 0, 0, 0, 0, x.sig)`,
    sql`CASE WHEN ${wantsDefinition('x')} THEN repeat('x', 27 + char_length(x.name) + char_length(x.tname)) END`,
  ]);
  const fits = (q: string) =>
    sql`${sql.raw(q)}._rn <= ${page.pageRows}::bigint AND (${sql.raw(q)}._rn = 1 OR ${sql.raw(q)}._least <= ${page.pageBytes}::bigint)`;
  const lastScan = context.serverVersionNum >= 160000 ? epoch(sql`pg_stat_get_lastscan(x.oid)`) : sql`-1`;
  const nullsNotDistinct = context.serverVersionNum >= 150000 ? sql`i.indnullsnotdistinct` : sql`false`;
  const history = historyJoin(input);
  return sql`WITH ix AS (
      SELECT i.indexrelid AS oid, i.indrelid AS toid, ic.relname AS name, ic.relam AS am, ic.relpages, ic.reltuples,
        ic.reloptions, ic.reltablespace, n.nspname, tc.relname AS tname, i.indisvalid AS valid, i.indisready AS ready,
        i.indisvalid AND i.indisprimary AS indisprimary, i.indisvalid AND i.indisunique AS indisunique,
        i.indisunique AS declared_unique, i.indisvalid AND i.indisexclusion AS indisexclusion, i.indisreplident,
        i.indisclustered, ${nullsNotDistinct} AS nnd, ic.relkind = 'I' AS partitioned,
        coalesce((SELECT h.inhparent FROM pg_inherits h WHERE h.inhrelid = i.indexrelid), 0) AS parent,
        pg_get_expr(i.indpred, i.indrelid) AS pred,
        i.indnkeyatts, i.indnatts, i.indkey, i.indexprs IS NOT NULL AS has_exprs,
        ic.relam = (SELECT oid FROM pg_am WHERE amname = 'btree') AS btree,
        -- What the checks compare, element by element: am; the key and INCLUDE column numbers (0 for an
        -- expression); the key columns' opclasses, collations and indoption bits; a hash per expression
        -- as pg_get_indexdef prints it; a predicate hash. Raw catalog vectors: no per-column lookups.
        concat_ws(';', ic.relam, replace(i.indkey::text, ' ', ','), replace(i.indclass::text, ' ', ','),
          replace(i.indcollation::text, ' ', ','), replace(i.indoption::text, ' ', ','),
          CASE WHEN i.indexprs IS NOT NULL THEN (SELECT string_agg(left(md5(pg_get_indexdef(i.indexrelid, k + 1, false)), 12), ',' ORDER BY k)
            FROM generate_series(0, i.indnkeyatts - 1) k WHERE i.indkey[k] = 0) END,
          left(md5(pg_get_expr(i.indpred, i.indrelid)), 12)) AS sig,
        ${indexIdentityHash} AS ident
      FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_class tc ON tc.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = tc.relnamespace
      WHERE tc.relkind IN ('r', 'm', 'p') AND ${userSchemaFilter('n', ledgerSchema)}
        -- Only tables with an index still to come: the foreign-key support needs every index of those
        -- tables, and none of the tables whose indexes all went on earlier pages.
        AND (${after}::bigint < 0 OR i.indrelid IN (SELECT r.indrelid FROM pg_index r WHERE r.indexrelid::bigint > ${after}::bigint))
    ),
    fk_support AS (
      -- Per foreign key, the one index kept as its support: the widest (a narrower one it
      -- covers is then the redundant one), then the oldest. Every other supporter can go.
      SELECT DISTINCT ON (k.oid) x.oid
      FROM pg_constraint k
      JOIN ix x ON x.toid = k.conrelid AND x.valid AND ${leadsWith('x', sql`k.conkey`)}
        AND ${servesForeignKey(sql`x.pred`, sql`k.conrelid`, sql`k.conkey`)}
      WHERE k.contype = 'f'
      ORDER BY k.oid, x.indnkeyatts DESC, x.oid
    ),
    fx AS (
      SELECT x.*, fs.oid IS NOT NULL AS fk,
        (x.indisprimary OR x.indisunique OR x.indisexclusion OR x.indisreplident OR fs.oid IS NOT NULL) AS protected
      FROM ix x LEFT JOIN (SELECT DISTINCT oid FROM fk_support) fs ON fs.oid = x.oid
    ),
    page AS MATERIALIZED (
      SELECT * FROM (
        SELECT x.*, count(*) OVER () AS _remaining,
          row_number() OVER w AS _rn, sum(${pageBound}) OVER w AS _least
        FROM fx x
        WHERE x.oid::bigint > ${after}::bigint
        WINDOW w AS (ORDER BY x.oid)
      ) q
      WHERE ${fits('q')}
    ),
    width AS (
      -- average stored width of a btree's columns (key and INCLUDE: both are stored in every leaf tuple), from
      -- pg_stats; complete only when every column has stats. Only for indexes big enough to reach the bloat
      -- threshold: pg_stats is the costliest join here.
      SELECT x.oid, sum(s.avg_width * (1 - s.null_frac)) AS bytes, count(s.avg_width) = x.indnatts AS complete
      FROM page x
      CROSS JOIN LATERAL unnest((x.indkey::int2[])[0:(x.indnatts - 1)]) u(attnum)
      LEFT JOIN pg_attribute a ON a.attrelid = x.toid AND a.attnum = u.attnum
      LEFT JOIN pg_stats s ON s.schemaname = x.nspname AND s.tablename = x.tname AND s.attname = a.attname AND NOT s.inherited
      WHERE x.btree AND x.relpages::float8 * ${context.blockSize}::int >= ${input.bloatMinBytes}::float8
      GROUP BY x.oid, x.indnatts
    ),
    facts AS (
      SELECT x.*, su.idx_scan, su.idx_tup_read, su.idx_tup_fetch, ${lastScan} AS last_scan,
        pg_relation_size(x.oid) AS bytes,
        CASE WHEN x.valid THEN false ELSE EXISTS (SELECT 1 FROM pg_stat_progress_create_index p
          -- the view is server-wide and oids repeat across databases
          WHERE p.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND (p.index_relid = x.oid OR (p.index_relid = 0 AND p.relid = x.toid))) END AS building,
        -- Expected pages of a freshly built btree (the estimate behind "bloated"):
        --   tuple   = MAXALIGN(8-byte IndexTuple header + key and INCLUDE width) + 4-byte line pointer
        --   per page = (block_size - 24 page header - 16 btree special) * fillfactor / 100
        --   pages   = 1 metapage + ceil(reltuples * tuple / per page)   (internal pages ignored: ~1 %)
        CASE WHEN w.complete AND x.reltuples >= 0 THEN
          1 + ceil(x.reltuples * (4 + 8 * ceil((8 + w.bytes) / 8.0))
            / ((${context.blockSize}::int - 40) * coalesce((SELECT o.option_value::int FROM pg_options_to_table(x.reloptions) o
                WHERE o.option_name = 'fillfactor'), 90) / 100.0))
        END AS est_pages,
        ${history.columns}
      FROM page x
      LEFT JOIN width w ON w.oid = x.oid
      -- pg_stat_user_indexes' own functions: the view would join pg_class, pg_index and
      -- pg_namespace again for rows already known to be user indexes.
      CROSS JOIN LATERAL (SELECT pg_stat_get_numscans(x.oid) AS idx_scan, pg_stat_get_tuples_returned(x.oid) AS idx_tup_read,
        pg_stat_get_tuples_fetched(x.oid) AS idx_tup_fetch) su
      CROSS JOIN (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) cur
      ${history.join}
    )
    SELECT f.oid::bigint AS _k, f._remaining, f.name AS i,
      concat_ws(' ', f.toid, f.bytes, coalesce(f.idx_scan, 0), coalesce(f.idx_tup_read, 0), coalesce(f.idx_tup_fetch, 0),
        f.last_scan,
        (CASE WHEN f.valid THEN 1 ELSE 0 END) + (CASE WHEN f.building THEN 2 ELSE 0 END)
          + (CASE WHEN f.indisprimary THEN 4 ELSE 0 END) + (CASE WHEN f.indisunique THEN 8 ELSE 0 END)
          + (CASE WHEN f.indisexclusion THEN 16 ELSE 0 END) + (CASE WHEN f.indisreplident THEN 32 ELSE 0 END)
          + (CASE WHEN f.fk THEN 64 ELSE 0 END) + (CASE WHEN f.btree THEN 128 ELSE 0 END)
          + (CASE WHEN f.ready THEN 256 ELSE 0 END) + (CASE WHEN f.partitioned THEN 512 ELSE 0 END)
          + (CASE WHEN f.nnd THEN 1024 ELSE 0 END) + (CASE WHEN f.declared_unique THEN 2048 ELSE 0 END),
        f.parent, f.relpages, coalesce(f.est_pages, -1)::bigint,
        coalesce(f.base_scans, -1), ${epoch(sql`f.base_at`)}, ${epoch(sql`f.first_at`)},
        CASE WHEN f.reset THEN 1 ELSE 0 END, f.sig) AS f,
      CASE WHEN ${wantsDefinition('f')} THEN concat_ws(E'\x1f', ${restoreDefinition('f')},
        CASE WHEN f.partitioned AND NOT f.valid THEN (SELECT string_agg(E'\x1e' || p.inhrelid::regclass::text, E'\x1f' ORDER BY p.inhrelid::regclass::text)
          FROM pg_inherits p WHERE p.inhparent = f.toid AND NOT EXISTS (SELECT 1 FROM pg_inherits pi JOIN pg_index ci ON ci.indexrelid = pi.inhrelid
            WHERE pi.inhparent = f.oid AND ci.indrelid = p.inhrelid)) END) END AS d
    FROM facts f`;
}

/**
 * What recreates index `x` exactly: pg_get_indexdef with the TABLESPACE clause spliced in before
 * its predicate (pg_get_indexdef prints neither; the predicate is printed as pg_get_expr prints it),
 * then its comment, its CLUSTER mark and its columns' statistics targets, each a statement of its own.
 */
function restoreDefinition(x: string): SqlQuery {
  const f = (column: string) => sql.raw(`${x}.${column}`);
  return sql`concat_ws(E'\x1f',
      CASE WHEN ${f('reltablespace')} = 0 THEN pg_get_indexdef(${f('oid')}) ELSE (SELECT CASE
        WHEN ${f('pred')} IS NULL THEN d.def || ' TABLESPACE ' || quote_ident(t.spcname)
        ELSE left(d.def, length(d.def) - length(${f('pred')}) - 7) || ' TABLESPACE ' || quote_ident(t.spcname) || ' WHERE ' || ${f('pred')} END
       FROM (SELECT pg_get_indexdef(${f('oid')}) AS def) d, pg_tablespace t WHERE t.oid = ${f('reltablespace')}) END,
      (SELECT format('COMMENT ON INDEX %I.%I IS %L', ${f('nspname')}, ${f('name')}, c.description)
        FROM pg_description c WHERE c.objoid = ${f('oid')} AND c.classoid = 'pg_class'::regclass AND c.objsubid = 0),
      CASE WHEN ${f('indisclustered')} THEN format('ALTER TABLE %I.%I CLUSTER ON %I', ${f('nspname')}, ${f('tname')}, ${f('name')}) END,
      -- statistics targets can be set on expression columns only
      CASE WHEN ${f('has_exprs')} THEN (SELECT string_agg(format('ALTER INDEX %I.%I ALTER COLUMN %s SET STATISTICS %s', ${f('nspname')}, ${f('name')}, a.attnum, a.attstattarget),
          E'\x1f' ORDER BY a.attnum)
        FROM pg_attribute a WHERE a.attrelid = ${f('oid')} AND a.attnum > 0 AND a.attstattarget IS NOT NULL AND a.attstattarget >= 0) END)`;
}

function parseSignature(text: string): IndexSignature {
  const [am, indkey, indclass, indcollation, indoption, expressions, predicate] = text.split(';');
  const list = (field: string | undefined) => (field ?? '').split(',').filter(Boolean);
  const columns = list(indkey);
  const opclasses = list(indclass);
  const collations = list(indcollation);
  const options = list(indoption);
  const hashes = list(expressions);
  if (opclasses.length === 0 || opclasses.length > columns.length || collations.length !== opclasses.length || options.length !== opclasses.length) {
    throw new TypeError(`unreadable index signature ${text}`);
  }
  let expression = 0;
  return {
    am: Number(am),
    keys: opclasses.map((opclass, k) => ({
      what: columns[k] === '0' ? `e${hashes[expression++] ?? '?'}` : columns[k]!,
      opclass,
      collation: collations[k]!,
      option: Number(options[k]),
    })),
    include: columns.slice(opclasses.length).map(Number).sort((x, y) => x - y),
    predicate: predicate ?? '',
  };
}

function decodeIndex(row: { _k: number; i: string; f: string; d: string | null }): IndexFacts {
  const parts = row.f.split(' ');
  const n = parts.slice(0, 14).map(Number);
  const restore = row.d === null ? [] : row.d.split('\x1f');
  const missing = restore.filter((part) => part.startsWith('\x1e')).map((part) => part.slice(1));
  const statements = restore.filter((part) => !part.startsWith('\x1e'));
  return {
    oid: Number(row._k),
    name: row.i,
    tableOid: n[0]!,
    sizeBytes: n[1]!,
    idxScan: n[2]!,
    idxTupRead: n[3]!,
    idxTupFetch: n[4]!,
    lastIdxScan: n[5]!,
    flags: n[6]!,
    parentOid: n[7]!,
    relpages: n[8]!,
    estimatedPages: n[9]!,
    baselineScans: n[10]!,
    baselineAt: n[11]!,
    historyStartAt: n[12]!,
    resetSinceBaseline: n[13] === 1,
    signature: parseSignature(parts.slice(14).join(' ')),
    definition: statements[0] ?? null,
    restoreExtras: statements.slice(1),
    missingPartitions: missing,
  };
}

export async function readIndexes(
  client: SqlExecutor,
  input: IndexQueryInput,
  page: PageOptions,
): Promise<{ indexes: IndexFacts[]; roundTrips: number }> {
  const result = await fetchAllPages<{ _k: number; i: string; f: string; d: string | null }>(
    client,
    (after, options) => indexesFamily(input, after, options),
    [
      { name: 'i', kind: 'text' },
      { name: 'f', kind: 'text' },
      { name: 'd', kind: 'text' },
    ],
    page,
  );
  return { indexes: result.rows.map(decodeIndex), roundTrips: result.roundTrips };
}

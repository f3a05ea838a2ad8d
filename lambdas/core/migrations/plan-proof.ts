/**
 * Plan proof: does the index a migration built serve the query it was built for?
 *
 * A migration declares `expect: [{ name, sql, params?, usesIndex, measure? }]` (model.ts). After a run's builds
 * and the ANALYZE of its tables (verification.ts), `provePlans` EXPLAINs every expectation of the migrations the
 * run applied and records, per expectation:
 * - `chosen`: the index appears in the plan with default settings;
 * - `usable`: it appears with enable_seqscan and enable_bitmapscan off (or it is already chosen).
 * A tiny table is often read with a Seq Scan however good its index: usable but not chosen is a fact, not a fault.
 *
 * How a statement is EXPLAINed: one transaction per expectation (SET LOCAL settings cannot leak, and the Data API
 * keeps no session state outside one), read-only, under a statement timeout. A query with parameters is PREPAREd
 * and EXPLAIN EXECUTEd with plan_cache_mode = force_generic_plan: the generic plan, on every supported server
 * (PostgreSQL 12+; EXPLAIN (GENERIC_PLAN) needs 16 and a simple-protocol statement, which no adapter sends), so
 * `params` are not needed for the check; NULLs stand in for missing ones. `measure: true` runs EXPLAIN ANALYZE
 * with the given params (custom plan) before the migration's first step and after the build, bounded by the
 * statement timeout, to report the speed-up.
 *
 * Policy: an expectation never fails a run. The change is done when it is checked; an unusable index, an
 * expectation whose SQL fails or whose measure times out is reported loudly (CLI output, run notice, ledger) and
 * is a finding, not an error. An expectation whose index was not built because its step's condition was unmet
 * (pgvector missing) is `skipped`.
 *
 * Results go to the ledger's `plan_checks` (append-only): phase `before` (measure before the build) and `after`
 * (the check at the end of the run). `verify-plans` re-checks without recording; the nightly report compares a
 * fresh check with what held at apply time (`planBaselines`) and reports a `plan_regression` finding.
 */
import { randomUUID } from 'node:crypto';
import type { SqlClient, SqlExecutor } from '../db/client.ts';
import { quoteIdent, quoteLiteral, sql, SqlQuery } from '../db/sql.ts';
import { sqlStateOf } from '../db/sqlstate.ts';
import type { Ledger } from './ledger.ts';
import { parameterCount, type CreateIndexStep, type LoadedMigration, type Migration, type PlanExpectation } from './model.ts';

export type PlanOutcome = 'held' | 'not_chosen' | 'unusable' | 'skipped' | 'error';

export interface Measurement {
  /** EXPLAIN ANALYZE's Execution Time; null when it did not finish. */
  ms: number | null;
  /** It ran into the statement timeout (then `ms` is null and the query takes at least `timeoutMs`). */
  timedOut: boolean;
  timeoutMs: number;
  error?: string | undefined;
}

export interface PlanCheck {
  revision: string;
  name: string;
  /** The index as the expectation names it. */
  index: string;
  /** The table the index is on, as schema.table, when known. */
  table: string | null;
  outcome: PlanOutcome;
  /** Null when the check could not run (skipped, error). */
  usable: boolean | null;
  chosen: boolean | null;
  /** 'generic' for a parameterized query (force_generic_plan), 'plain' for one without parameters. */
  planKind: 'generic' | 'plain' | null;
  /** The default plan in short, e.g. 'Limit > Seq Scan on assistants'. */
  defaultPlan: string | null;
  /** The table's estimated rows (pg_class.reltuples), to say why a seq scan may be cheaper. */
  tableRows: number | null;
  /** Why skipped, or the error. */
  reason: string | null;
  /** With `measure: true`: EXPLAIN ANALYZE before the build (this run), after, and after / before. */
  measure?: { before: Measurement | null; after: Measurement | null; speedup: string | null } | undefined;
}

/** The longest a plan check or measurement statement may run: under the Data API's 45 s call limit. */
export const PLAN_CHECK_TIMEOUT_MS = 30_000;

export const timeoutFor = (client: { statementTimeoutMs?: number | undefined }) =>
  client.statementTimeoutMs ? Math.max(1000, Math.min(PLAN_CHECK_TIMEOUT_MS, client.statementTimeoutMs - 5000)) : PLAN_CHECK_TIMEOUT_MS;

// ---------------------------------------------------------------- plans

interface PlanNode {
  'Node Type'?: string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function rootOf(explained: unknown): { Plan?: PlanNode; 'Execution Time'?: number } | undefined {
  const value = typeof explained === 'string' ? (JSON.parse(explained) as unknown) : explained;
  return Array.isArray(value) ? (value[0] as { Plan?: PlanNode }) : undefined;
}

/** Every index a plan reads (Index Scan, Index Only Scan, Bitmap Index Scan), at any depth. */
export function indexesInPlan(explained: unknown): string[] {
  const found: string[] = [];
  const walk = (node: PlanNode | undefined) => {
    if (!node) return;
    if (node['Index Name']) found.push(node['Index Name']);
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(rootOf(explained)?.Plan);
  return found;
}

/** A plan in one line: each node's type, its index or relation, children after '>' (siblings in brackets). */
export function planSummary(explained: unknown): string {
  const describe = (node: PlanNode): string => {
    const what = node['Index Name'] ? ` using ${node['Index Name']}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}` : node['Relation Name'] ? ` on ${node['Relation Name']}` : '';
    const children = node.Plans ?? [];
    const own = `${node['Node Type'] ?? '?'}${what}`;
    if (children.length === 0) return own;
    if (children.length === 1) return `${own} > ${describe(children[0]!)}`;
    return `${own} > [${children.map(describe).join('; ')}]`;
  };
  const root = rootOf(explained)?.Plan;
  return root ? describe(root) : '?';
}

// ---------------------------------------------------------------- one expectation

const raw = (text: string) => new SqlQuery([text]);

function literal(value: string | number | boolean | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return quoteLiteral(value);
}

/** 'schema.name' or 'name' as a quoted regclass text. */
function indexRef(usesIndex: string): string {
  return usesIndex.split('.').map(quoteIdent).join('.');
}

const bareName = (usesIndex: string) => usesIndex.split('.').pop()!;

/**
 * Runs `body` inside one read-only transaction with a statement timeout. `body` gets `statement()`, which returns
 * the statement to EXPLAIN: the query itself or, with parameters, EXECUTE of it freshly PREPAREd (a prepared
 * statement keeps its cached generic plan when settings change, so each plan gets its own; all are DEALLOCATEd).
 */
async function withStatement<T>(
  client: SqlClient,
  e: PlanExpectation,
  settings: Record<string, string>,
  args: 'nulls' | 'params',
  body: (tx: SqlExecutor, statement: () => Promise<string>) => Promise<T>,
): Promise<T> {
  const count = parameterCount(e.sql);
  const all = { statement_timeout: String(timeoutFor(client)), transaction_read_only: 'on', ...settings };
  return client.transaction(async (tx) => {
    await tx.query(sql`SELECT ${sql.join(Object.entries(all).map(([k, v]) => sql`set_config(${k}, ${v}, true)`), ', ')}`);
    const prepared: string[] = [];
    const statement = async () => {
      if (count === 0) return e.sql;
      const name = `offpeak_expect_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
      await tx.query(raw(`PREPARE ${name} AS ${e.sql}`));
      prepared.push(name);
      const values = Array.from({ length: count }, (_, i) => (args === 'params' && e.params ? literal(e.params[i] ?? null) : 'NULL'));
      return `EXECUTE ${name}(${values.join(', ')})`;
    };
    const result = await body(tx, statement);
    for (const name of prepared) await tx.query(raw(`DEALLOCATE ${name}`));
    return result;
  });
}

async function explain(tx: SqlExecutor, statement: string, analyze = false): Promise<unknown> {
  const { rows } = await tx.query<Record<string, unknown>>(raw(`EXPLAIN (${analyze ? 'ANALYZE, ' : ''}FORMAT JSON) ${statement}`));
  return rows[0]?.['QUERY PLAN'];
}

/** The default plan and the plan with seq and bitmap scans off, of one expectation (generic plan when parameterized). */
export async function explainExpectation(client: SqlClient, e: PlanExpectation): Promise<{ defaultPlan: unknown; forcedPlan: unknown; planKind: 'generic' | 'plain' }> {
  const generic = parameterCount(e.sql) > 0;
  return withStatement(client, e, generic ? { plan_cache_mode: 'force_generic_plan' } : {}, 'nulls', async (tx, statement) => {
    const defaultPlan = await explain(tx, await statement());
    await tx.query(sql`SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)`);
    const forcedPlan = await explain(tx, await statement());
    return { defaultPlan, forcedPlan, planKind: generic ? 'generic' : 'plain' };
  });
}

/** EXPLAIN ANALYZE with the expectation's params, under the statement timeout: runs the query, read-only. */
export async function measureExpectation(client: SqlClient, e: PlanExpectation): Promise<Measurement> {
  const timeoutMs = timeoutFor(client);
  try {
    const plan = await withStatement(client, e, {}, 'params', async (tx, statement) => explain(tx, await statement(), true));
    const ms = rootOf(plan)?.['Execution Time'];
    return { ms: typeof ms === 'number' ? ms : null, timedOut: false, timeoutMs };
  } catch (error) {
    if (sqlStateOf(error) === '57014') return { ms: null, timedOut: true, timeoutMs };
    return { ms: null, timedOut: false, timeoutMs, error: error instanceof Error ? error.message : String(error) };
  }
}

/** 'before / after' as a speed-up, e.g. '37.2x', '>= 120x' when the before run timed out; null when unknown. */
export function speedup(before: Measurement | null, after: Measurement | null): string | null {
  if (!before || !after || after.ms === null) return null;
  const floor = Math.max(after.ms, 0.001);
  if (before.timedOut) return `>= ${(before.timeoutMs / floor).toFixed(1)}x`;
  if (before.ms === null) return null;
  return `${(before.ms / floor).toFixed(1)}x`;
}

interface IndexFacts {
  exists: boolean;
  table: string | null;
  rows: number | null;
}

async function indexFacts(client: SqlExecutor, usesIndex: string): Promise<IndexFacts> {
  // An unqualified name is looked up on the search path, then in any schema (the first by oid when several have it).
  const qualifiedName = usesIndex.includes('.');
  const { rows } = await client.query<{ exists: boolean; tbl: string | null; reltuples: number | null }>(sql`
    WITH x AS (SELECT coalesce(to_regclass(${indexRef(usesIndex)}),
                 (SELECT c.oid::regclass FROM pg_class c WHERE NOT ${qualifiedName} AND c.relname = ${bareName(usesIndex)} AND c.relkind IN ('i', 'I') ORDER BY c.oid LIMIT 1)) AS oid)
    SELECT x.oid IS NOT NULL AS exists, n.nspname || '.' || t.relname AS tbl, t.reltuples::float8 AS reltuples
    FROM x LEFT JOIN pg_index i ON i.indexrelid = x.oid LEFT JOIN pg_class t ON t.oid = i.indrelid LEFT JOIN pg_namespace n ON n.oid = t.relnamespace`.idempotent());
  const r = rows[0];
  return { exists: r?.exists === true, table: r?.tbl ?? null, rows: r?.reltuples === null || r?.reltuples === undefined ? null : Math.max(0, Math.round(r.reltuples)) };
}

/** The step of the migration that builds the index, when it builds it. */
function buildingStep(m: Migration, usesIndex: string): CreateIndexStep | undefined {
  const [schema, name] = usesIndex.includes('.') ? usesIndex.split('.') : [undefined, usesIndex];
  return m.up.find((s): s is CreateIndexStep => s.kind === 'create_index' && s.index.name === name && (schema === undefined || s.index.schema === schema));
}

/**
 * Checks one expectation of migration `m`. Never throws for the expectation's own failures (bad SQL, a missing
 * table): those are an `error` outcome naming the migration and expectation. `skipped`: the index is missing
 * and the step that builds it is conditional (its condition was unmet).
 */
export async function checkExpectation(client: SqlClient, m: Migration, e: PlanExpectation): Promise<PlanCheck> {
  const builder = buildingStep(m, e.usesIndex);
  const facts = await indexFacts(client, builder && !e.usesIndex.includes('.') ? `${builder.index.schema}.${e.usesIndex}` : e.usesIndex);
  const base = { revision: m.revision, name: e.name, index: e.usesIndex, table: facts.table, tableRows: facts.rows };
  if (!facts.exists && builder?.when) {
    return {
      ...base,
      outcome: 'skipped',
      usable: null,
      chosen: null,
      planKind: null,
      defaultPlan: null,
      reason: `index ${e.usesIndex} was not built: its step runs only when extension ${builder.when.extensionAvailable} is available`,
    };
  }
  if (builder && !facts.table) base.table = `${builder.index.schema}.${builder.index.table}`;
  try {
    const { defaultPlan, forcedPlan, planKind } = await explainExpectation(client, e);
    const name = bareName(e.usesIndex);
    const chosen = indexesInPlan(defaultPlan).includes(name);
    const usable = chosen || indexesInPlan(forcedPlan).includes(name);
    return {
      ...base,
      outcome: chosen ? 'held' : usable ? 'not_chosen' : 'unusable',
      usable,
      chosen,
      planKind,
      defaultPlan: planSummary(defaultPlan),
      reason: facts.exists ? (usable ? null : `the plan does not use ${e.usesIndex} even with seq and bitmap scans off: ${planSummary(forcedPlan)}`) : `index ${e.usesIndex} does not exist`,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ...base, outcome: 'error', usable: null, chosen: null, planKind: null, defaultPlan: null, reason: `migration ${m.revision}, expectation ${JSON.stringify(e.name)}: EXPLAIN failed: ${message}` };
  }
}

/** One line for people, honest about usable-but-not-chosen. */
export function describePlanCheck(c: PlanCheck): string {
  const head = `${c.revision} ${JSON.stringify(c.name)} → ${c.index}`;
  const rows = c.tableRows != null && c.table ? ` (${c.table} has ~${c.tableRows} row(s))` : '';
  const speed = c.measure ? ` ${describeMeasure(c.measure)}` : '';
  switch (c.outcome) {
    case 'held':
      return `${head}: used (usable and chosen)${speed}`;
    case 'not_chosen':
      return `${head}: usable but NOT chosen: the planner prefers ${c.defaultPlan ?? '?'} at the current statistics${rows}; a small table is often cheaper to scan${speed}`;
    case 'unusable':
      return `${head}: NOT USABLE: ${c.reason ?? 'the plan does not use it'}${speed}`;
    case 'skipped':
      return `${head}: skipped: ${c.reason ?? ''}`;
    case 'error':
      return `${head}: ERROR: ${c.reason ?? ''}`;
  }
}

function describeMeasure(m: NonNullable<PlanCheck['measure']>): string {
  const one = (x: Measurement | null) => (x === null ? 'not measured' : x.timedOut ? `> ${x.timeoutMs} ms (timed out)` : x.ms !== null ? `${x.ms.toFixed(1)} ms` : `failed (${x.error ?? '?'})`);
  return `[measured: before ${one(m.before)}, after ${one(m.after)}${m.speedup ? `, ${m.speedup} faster` : ''}]`;
}

// ---------------------------------------------------------------- ledger

interface CheckRow {
  run_id: string | null;
  phase: 'before' | 'after';
  revision: string;
  name: string;
  index_name: string;
  table_name: string | null;
  sql: string;
  params: unknown;
  outcome: string;
  usable: boolean | null;
  chosen: boolean | null;
  plan_kind: string | null;
  default_plan: string | null;
  execution_ms: number | null;
  timed_out: boolean;
  error: string | null;
}

async function record(ledger: Ledger, client: SqlExecutor, rows: CheckRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(sql`INSERT INTO ${ledger.table('plan_checks')} (run_id, phase, revision, name, index_name, table_name, sql, params, outcome, usable, chosen, plan_kind, default_plan, execution_ms, timed_out, error)
    SELECT x.run_id, x.phase, x.revision, x.name, x.index_name, x.table_name, x.sql, x.params, x.outcome, x.usable, x.chosen, x.plan_kind, x.default_plan, x.execution_ms, x.timed_out, x.error
    FROM jsonb_to_recordset(${sql.json(rows)}::jsonb) AS x(run_id text, phase text, revision text, name text, index_name text, table_name text, sql text, params jsonb,
      outcome text, usable boolean, chosen boolean, plan_kind text, default_plan text, execution_ms float8, timed_out boolean, error text)`);
}

const expectationOf = (m: Migration, name: string) => m.expect.find((e) => e.name === name)!;

/**
 * Runner hook, before the first unit of migration `m` going up: measures its `measure` expectations (once per
 * run: a resumed unit finds them recorded). A failure to measure (the table does not exist yet) is recorded.
 */
export async function measureBefore(client: SqlClient, ledger: Ledger, runId: string, m: Migration): Promise<void> {
  const measured = m.expect.filter((e) => e.measure);
  if (measured.length === 0) return;
  const { rows } = await client.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM ${ledger.table('plan_checks')} WHERE run_id = ${runId} AND revision = ${m.revision} AND phase = 'before'`);
  if ((rows[0]?.n ?? 0) > 0) return;
  const out: CheckRow[] = [];
  for (const e of measured) {
    const r = await measureExpectation(client, e);
    out.push({
      run_id: runId, phase: 'before', revision: m.revision, name: e.name, index_name: e.usesIndex, table_name: null, sql: e.sql, params: e.params ?? null,
      outcome: r.error ? 'error' : 'measured', usable: null, chosen: null, plan_kind: 'custom', default_plan: null, execution_ms: r.ms, timed_out: r.timedOut, error: r.error ?? null,
    });
  }
  await record(ledger, client, out);
}

export interface PlanProof {
  checks: PlanCheck[];
}

/**
 * Runner hook at the end of a run going up (after verification's ANALYZE): checks every expectation of the
 * migrations the run applied, measures the `measure` ones, records them (phase `after`) and returns them.
 * Never throws for an expectation; a failure to record is reported in the checks' place by the caller.
 */
export async function provePlans(client: SqlClient, ledger: Ledger, runId: string, migrations: readonly LoadedMigration[], mayMeasure: () => boolean = () => true): Promise<PlanProof> {
  const checks: PlanCheck[] = [];
  for (const m of migrations) {
    for (const e of m.expect) checks.push(await checkExpectation(client, m, e));
  }
  const measured = checks.filter((c) => expectationOf(migrations.find((m) => m.revision === c.revision)!, c.name).measure);
  if (measured.length) {
    const { rows } = await client.query<{ revision: string; name: string; execution_ms: number | null; timed_out: boolean; error: string | null }>(
      sql`SELECT revision, name, execution_ms, timed_out, error FROM ${ledger.table('plan_checks')} WHERE run_id = ${runId} AND phase = 'before'`,
    );
    const timeoutMs = timeoutFor(client);
    for (const c of measured) {
      const b = rows.find((r) => r.revision === c.revision && r.name === c.name);
      const before: Measurement | null = b ? { ms: b.execution_ms, timedOut: b.timed_out, timeoutMs, ...(b.error ? { error: b.error } : {}) } : null;
      const e = expectationOf(migrations.find((m) => m.revision === c.revision)!, c.name);
      const after: Measurement | null =
        c.outcome === 'skipped' ? null : mayMeasure() ? await measureExpectation(client, e) : { ms: null, timedOut: false, timeoutMs, error: 'not measured after the build: the call was too close to its deadline' };
      c.measure = { before, after, speedup: speedup(before, after) };
    }
  }
  await record(
    ledger,
    client,
    checks.map((c) => {
      const e = expectationOf(migrations.find((m) => m.revision === c.revision)!, c.name);
      return {
        run_id: runId, phase: 'after', revision: c.revision, name: c.name, index_name: c.index, table_name: c.table, sql: e.sql, params: e.params ?? null,
        outcome: c.outcome, usable: c.usable, chosen: c.chosen, plan_kind: c.planKind, default_plan: c.defaultPlan,
        execution_ms: c.measure?.after?.ms ?? null, timed_out: c.measure?.after?.timedOut ?? false, error: c.outcome === 'skipped' ? null : c.reason,
      };
    }),
  );
  return { checks };
}

// ---------------------------------------------------------------- regressions (nightly)

/** What held for one expectation at apply time (its `after` checks since its migration was applied). */
export interface PlanBaseline {
  revision: string;
  name: string;
  index: string;
  table: string | null;
  sql: string;
  params: Array<string | number | boolean | null> | null;
  usableHeld: boolean;
  chosenHeld: boolean;
  heldAt: Date | null;
}

/**
 * Expectations of applied migrations that held (usable, or chosen) when checked after their migration was applied.
 * Read-only; [] when the ledger or its plan_checks table does not exist.
 */
export async function planBaselines(client: SqlExecutor, schema: string): Promise<PlanBaseline[]> {
  const table = `${quoteIdent(schema)}.plan_checks`;
  const { rows: found } = await client.query<{ ok: boolean }>(sql`SELECT to_regclass(${table}) IS NOT NULL AND to_regclass(${`${quoteIdent(schema)}.applied_migrations`}) IS NOT NULL AS ok`.idempotent());
  if (!found[0]?.ok) return [];
  const t = (name: string) => sql.ident(schema, name);
  const { rows } = await client.query<{ revision: string; name: string; index_name: string; table_name: string | null; sql: string; params: unknown; usable_held: boolean; chosen_held: boolean; held_at: Date | null }>(sql`
    SELECT p.revision, p.name, (array_agg(p.index_name ORDER BY p.id DESC))[1] AS index_name, (array_agg(p.table_name ORDER BY p.id DESC))[1] AS table_name,
           (array_agg(p.sql ORDER BY p.id DESC))[1] AS sql, (array_agg(p.params ORDER BY p.id DESC))[1] AS params,
           coalesce(bool_or(p.usable), false) AS usable_held, coalesce(bool_or(p.chosen), false) AS chosen_held,
           max(p.checked_at) FILTER (WHERE p.usable) AS held_at
    FROM ${t('plan_checks')} p JOIN ${t('applied_migrations')} a ON a.revision = p.revision AND p.checked_at >= a.applied_at
    WHERE p.phase = 'after'
    GROUP BY p.revision, p.name
    HAVING coalesce(bool_or(p.usable), false)
    ORDER BY p.revision, p.name`.withJsonRows().idempotent());
  return rows.map((r) => ({
    revision: r.revision,
    name: r.name,
    index: r.index_name,
    table: r.table_name,
    sql: r.sql,
    params: Array.isArray(r.params) ? (r.params as PlanBaseline['params']) : null,
    usableHeld: r.usable_held,
    chosenHeld: r.chosen_held,
    heldAt: r.held_at === null ? null : new Date(r.held_at),
  }));
}

export interface PlanRegression {
  baseline: PlanBaseline;
  check: PlanCheck;
  /** 'usable': the index no longer serves the query at all; 'chosen': it still could, but the planner stopped picking it. */
  lost: 'usable' | 'chosen';
}

/** Re-checks every baseline that held and returns the ones that no longer hold. */
export async function planRegressions(client: SqlClient, schema: string): Promise<PlanRegression[]> {
  const out: PlanRegression[] = [];
  for (const b of await planBaselines(client, schema)) {
    const e: PlanExpectation = { name: b.name, sql: b.sql, usesIndex: b.index, ...(b.params ? { params: b.params } : {}) };
    const stand: Migration = { revision: b.revision, downRevisions: [], description: '', risk: 'low', rollbackPlan: undefined, up: [], down: [], irreversible: undefined, transactional: { up: true, down: true }, mixedLocking: undefined, replaces: [], lint: { disable: [] }, expect: [e] };
    const check = await checkExpectation(client, stand, e);
    if (check.table === null) check.table = b.table;
    if (check.usable !== true) out.push({ baseline: b, check, lost: 'usable' });
    else if (b.chosenHeld && check.chosen === false) out.push({ baseline: b, check, lost: 'chosen' });
  }
  return out;
}

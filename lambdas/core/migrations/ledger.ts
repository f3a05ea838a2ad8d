/**
 * The ledger: all of offpeak's migration bookkeeping, in one schema (default `offpeak`).
 *
 * Tables (created idempotently by `ensure`, never by a read or a `--sql` preview):
 * - `applied_migrations(revision PK, checksum, applied_at, duration_ms, actor, description, run_id, recorded_only)`:
 *   what is applied. `recorded_only` marks stamp / Alembic adoption / squash records that ran nothing.
 * - `migration_events(id, run_id, revision, direction, step, status, error, sqlstate, duration_ms, event_key, at)`:
 *   append-only, one row per step and direction (an index build: one `started` and at most one `failed` per
 *   attempt). status: started | done | skipped | failed | recorded (step -1 for record-only units such as stamp
 *   and adoption) | unknown (a statement ended after its call returned and nothing can tell how) |
 *   interrupted (a signal stopped it). A failed event carries its cause: `error` and `sqlstate`. `event_key`,
 *   when set, is unique: a write retried after a lost response inserts nothing twice.
 * - `migration_runs(run_id PK, target, direction, status, plan jsonb, position, actor, error, started_at, updated_at,
 *   resumed_at)`: resumable runs; `position` is the index of the next plan unit to execute; `resumed_at` is when a
 *   failed run was last resumed (budgets such as index build attempts count from then).
 * - `migration_tables(revision, schema_name, table_name, applied_at)`: one row per table each applied
 *   migration touched (read by the health checks to find stale statistics). Keep name and columns.
 * - `plan_checks(id, run_id, phase, revision, name, index_name, table_name, sql, params, outcome, usable, chosen, plan_kind,
 *   default_plan, execution_ms, timed_out, error, checked_at)`: plan proof (plan-proof.ts), append-only.
 * - `lease(name PK, owner, expires_at, heartbeat_at, acquired_at, proof_kind, proof_id, proof_pid, proof_backend_start,
 *   taken_over_from)`: see lease.ts.
 * - `index_build_samples(id, access_method, bytes, seconds, source, index_name, table_name, run_id, recorded_at)`:
 *   how fast this target built indexes (a run's builds, a rehearsal's), read by pre-flight (core/preflight/calibration.ts).
 *
 * `journal(executor, entry)` writes events, applied rows, touched tables and the run position in ONE
 * statement (data-modifying CTEs), so a transactional migration's bookkeeping commits with its steps
 * at the cost of one round trip, and a standalone step's completion is one autocommit call. Options let a
 * catalog condition gate the writes (`when`) and a read or `set_config` ride on them (`select`).
 */
import type { SqlClient, SqlExecutor } from '../db/client.ts';
import { quoteIdent, quoteLiteral, sql, SqlQuery } from '../db/sql.ts';
import { ConfigError, DatabaseError } from '../errors.ts';
import { CONCURRENT_CREATE_SQLSTATES } from '../db/sqlstate.ts';

export const DEFAULT_LEDGER_SCHEMA = 'offpeak';

export type Direction = 'up' | 'down';
export const EVENT_STATUSES = ['started', 'done', 'skipped', 'failed', 'recorded', 'unknown', 'interrupted'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];
export type RunStatus = 'in_progress' | 'window_closed' | 'done' | 'failed' | 'abandoned';

export interface AppliedRow {
  revision: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number;
  actor: string;
  description: string;
  runId: string | null;
  recordedOnly: boolean;
}

export interface StepEvent {
  revision: string;
  direction: Direction;
  /** Step index within the direction's steps (0-based); -1 for a record-only unit. */
  step: number;
  status: EventStatus;
  error?: string | null;
  /** The SQLSTATE of a failed event's cause, when known. */
  sqlState?: string | null;
  durationMs?: number | null;
  /** Unique when set: the same write retried (a lost response) inserts the event once. */
  key?: string | null;
}

export interface AppliedRecord {
  revision: string;
  checksum: string;
  durationMs: number;
  actor: string;
  description: string;
  recordedOnly: boolean;
  /** Touched tables, as [schema, table]. */
  tables: Array<[string, string]>;
}

export interface JournalEntry {
  runId: string;
  events?: StepEvent[];
  applied?: AppliedRecord[];
  /** Revisions to remove from applied_migrations and migration_tables (a downgrade). */
  unapplied?: string[];
  /** Final durations of applied migrations, recorded after the fact (see the runner's transactional units). */
  durations?: Array<{ revision: string; durationMs: number }>;
  run?: { position?: number; status?: RunStatus; error?: string | null };
  /**
   * A calibration sample for pre-flight, riding on an index build's "done" write (no round trip of its own):
   * the index's size now, and the seconds since the attempt's `started` event (`startedKey`) was written. Left
   * out when the index's catalog row is older than that event (a build skipped by IF NOT EXISTS).
   */
  buildSample?: { schema: string; index: string; table: string; startedKey: string };
}

export interface JournalOptions {
  /** Gates every write of the entry (see `journal`). */
  when?: SqlQuery;
  /** The statement's final SELECT (default: `ok`, the value of `when`). */
  select?: SqlQuery;
  /** The commit need not wait for the WAL flush (see `journal`). */
  asyncCommit?: boolean;
}

export interface RunRow {
  runId: string;
  target: string;
  direction: Direction;
  status: RunStatus;
  plan: unknown;
  position: number;
  actor: string;
  error: string | null;
  startedAt: Date;
  updatedAt: Date;
  /** When the run was last resumed after it failed; null if never. */
  resumedAt: Date | null;
}

export interface BuildAttempts {
  /** Attempts started in this run, ever. */
  started: number;
  /** Attempts failed in this run, ever: attempt numbers continue from here. */
  failed: number;
  /** Attempts failed since the run started or was last resumed after failing. */
  spent: number;
  lastError: string | null;
  lastSqlState: string | null;
}

/** The event key of an index build attempt's `started` or `failed` event (1-based attempt). */
export const buildEventKey = (runId: string, revision: string, direction: Direction, step: number, attempt: number, status: 'started' | 'failed') =>
  `build:${runId}:${revision}:${direction}:${step}:${attempt}:${status}`;

export interface EventRow extends Required<StepEvent> {
  runId: string;
  at: Date;
}

/** The tables as this offpeak makes them (IF NOT EXISTS: an older ledger's tables are left to `UPGRADES`). */
const DDL = (s: string): SqlQuery[] => {
  const t = (name: string) => sql.ident(s, name);
  return [
    sql`CREATE TABLE IF NOT EXISTS ${t('applied_migrations')} (
      revision text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      duration_ms integer NOT NULL DEFAULT 0,
      actor text NOT NULL,
      description text NOT NULL DEFAULT '',
      run_id text,
      recorded_only boolean NOT NULL DEFAULT false)`,
    sql`CREATE TABLE IF NOT EXISTS ${t('migration_events')} (
      id bigserial PRIMARY KEY,
      run_id text NOT NULL,
      revision text NOT NULL,
      direction text NOT NULL CHECK (direction IN ('up', 'down')),
      step integer NOT NULL,
      status text NOT NULL CONSTRAINT migration_events_status_v2 CHECK (status IN (${sql.raw(EVENT_STATUSES.map(quoteLiteral).join(', '))})),
      error text,
      sqlstate text,
      duration_ms integer,
      event_key text,
      at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    sql`CREATE TABLE IF NOT EXISTS ${t('migration_runs')} (
      run_id text PRIMARY KEY,
      target text NOT NULL,
      direction text NOT NULL CHECK (direction IN ('up', 'down')),
      status text NOT NULL CHECK (status IN ('in_progress', 'window_closed', 'done', 'failed', 'abandoned')),
      plan jsonb NOT NULL,
      position integer NOT NULL DEFAULT 0,
      actor text NOT NULL,
      error text,
      started_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      resumed_at timestamptz)`,
    sql`CREATE TABLE IF NOT EXISTS ${t('lease')} (
      name text PRIMARY KEY,
      owner text NOT NULL,
      expires_at timestamptz NOT NULL,
      heartbeat_at timestamptz NOT NULL,
      acquired_at timestamptz NOT NULL,
      proof_kind text,
      proof_id text,
      proof_pid integer,
      proof_backend_start timestamptz,
      taken_over_from text)`,
    sql`CREATE TABLE IF NOT EXISTS ${t('index_build_samples')} (
      id bigserial PRIMARY KEY,
      access_method text NOT NULL,
      bytes bigint NOT NULL CHECK (bytes >= 0),
      seconds double precision NOT NULL CHECK (seconds > 0),
      source text NOT NULL CHECK (source IN ('run', 'rehearsal')),
      index_name text,
      table_name text,
      run_id text,
      recorded_at timestamptz NOT NULL DEFAULT now())`,
    // v5: plan proof (plan-proof.ts): one row per expectation check, append-only.
    sql`CREATE TABLE IF NOT EXISTS ${t('plan_checks')} (
      id bigserial PRIMARY KEY,
      run_id text,
      phase text NOT NULL CHECK (phase IN ('before', 'after')),
      revision text NOT NULL,
      name text NOT NULL,
      index_name text NOT NULL,
      table_name text,
      sql text NOT NULL,
      params jsonb,
      outcome text NOT NULL CHECK (outcome IN ('held', 'not_chosen', 'unusable', 'skipped', 'error', 'measured')),
      usable boolean,
      chosen boolean,
      plan_kind text,
      default_plan text,
      execution_ms double precision,
      timed_out boolean NOT NULL DEFAULT false,
      error text,
      checked_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    // Created last (in one statement with the rest, so this only matters to ledgers of older offpeak versions):
    // its presence means the whole ledger exists (see `exists`).
    sql`CREATE TABLE IF NOT EXISTS ${t('migration_tables')} (
      revision text NOT NULL,
      schema_name text NOT NULL,
      table_name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (revision, schema_name, table_name))`,
  ];
};

/**
 * The ledger's shape version, kept as the comment on migration_events. A ledger with an older mark (or none:
 * offpeak before versions) is upgraded by `ensure`. Bump it whenever DDL or UPGRADES change.
 */
export const LEDGER_VERSION = 5;
const versionMark = (version: number) => `offpeak ledger v${version}`;
const markedVersion = (mark: string | null | undefined): number => Number(/^offpeak ledger v(\d+)$/.exec(mark ?? '')?.[1] ?? 0);

/**
 * What an older ledger lacks, made idempotently: additive only (new columns, a wider status check, indexes),
 * so an older offpeak still reading or writing the ledger keeps working. Runs after DDL, in the same statement.
 */
const UPGRADES = (s: string): string[] => {
  const t = (name: string) => `${quoteIdent(s)}.${quoteIdent(name)}`;
  const events = t('migration_events');
  return [
    // v2: failed events carry a SQLSTATE; retried writes are idempotent by event_key; more statuses; runs.resumed_at.
    `ALTER TABLE ${events} ADD COLUMN IF NOT EXISTS sqlstate text, ADD COLUMN IF NOT EXISTS event_key text`,
    `IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${quoteLiteral(events)}::regclass AND conname = 'migration_events_status_v2') THEN
    ALTER TABLE ${events} DROP CONSTRAINT IF EXISTS migration_events_status_check,
      ADD CONSTRAINT migration_events_status_v2 CHECK (status IN (${EVENT_STATUSES.map(quoteLiteral).join(', ')}));
  END IF`,
    `CREATE UNIQUE INDEX IF NOT EXISTS migration_events_event_key ON ${events} (event_key)`,
    `ALTER TABLE ${t('migration_runs')} ADD COLUMN IF NOT EXISTS resumed_at timestamptz`,
    // v3: the lease records how to prove its holder alive (lease.ts), and whom it was taken over from.
    `ALTER TABLE ${t('lease')} ADD COLUMN IF NOT EXISTS proof_kind text, ADD COLUMN IF NOT EXISTS proof_id text,
    ADD COLUMN IF NOT EXISTS proof_pid integer, ADD COLUMN IF NOT EXISTS proof_backend_start timestamptz,
    ADD COLUMN IF NOT EXISTS taken_over_from text`,
    // v4: index_build_samples (in DDL: CREATE TABLE IF NOT EXISTS makes it in an older ledger too).
    // v5: plan_checks (likewise in DDL).
  ];
};

/**
 * `execute_step(statement, lock_timeout)`: runs one migration statement from inside the bookkeeping write, so
 * a transactional migration's ledger rows cost no round trip of their own (the Data API takes one statement
 * per call, and a DDL statement cannot carry a write). PL/pgSQL's EXECUTE runs it as written, with the
 * caller's rights and search_path; the one thing it refuses is `SELECT … INTO` (use CREATE TABLE … AS).
 * `lock_timeout`, when given, is set for the rest of the transaction first.
 */
const executeStepDdl = (s: string): string => {
  const fn = `${quoteIdent(s)}.execute_step`;
  return `IF to_regprocedure(${quoteLiteral(`${fn}(text,text)`)}) IS NULL THEN
    CREATE FUNCTION ${fn}(statement text, step_lock_timeout text) RETURNS boolean LANGUAGE plpgsql AS $fn$
    BEGIN
      IF step_lock_timeout IS NOT NULL THEN PERFORM set_config('lock_timeout', step_lock_timeout, true); END IF;
      EXECUTE statement;
      RETURN true;
    END $fn$;
  END IF;`;
};

/**
 * The whole ledger in ONE statement (a DO block): one round trip and one commit, on a first run and on an
 * upgrade alike, and all of it or none. Every part is idempotent, so concurrent first runs only race on the
 * catalogs' unique indexes (CONCURRENT_CREATE_SQLSTATES, retried by `ensure`). The schema is made only when
 * missing: `CREATE SCHEMA IF NOT EXISTS` would need CREATE on the database even when it exists.
 */
const ledgerDdl = (s: string): SqlQuery => {
  const parts = [
    `IF to_regnamespace(${quoteLiteral(quoteIdent(s))}) IS NULL THEN CREATE SCHEMA ${quoteIdent(s)}; END IF;`,
    ...DDL(s).map((q) => `${q.toString()};`),
    ...UPGRADES(s).map((u) => `${u};`),
    executeStepDdl(s),
    `COMMENT ON TABLE ${quoteIdent(s)}.migration_events IS ${quoteLiteral(versionMark(LEDGER_VERSION))};`,
  ];
  return new SqlQuery([`DO $ledger$ BEGIN\n${parts.map((p) => `  ${p}`).join('\n')}\nEND $ledger$`]);
};

/** The whole ledger's DDL as one idempotent statement, for scripts a DBA runs with psql (`upgrade --sql --offline`). */
export function ledgerDdlText(schema: string = DEFAULT_LEDGER_SCHEMA): string {
  return ledgerDdl(schema).toString();
}

/** execute_step alone, for a ledger at this version that lacks it: needs CREATE on the ledger's schema, not ownership. */
const executeStepOnly = (s: string): SqlQuery => new SqlQuery([`DO $ledger$ BEGIN\n  ${executeStepDdl(s)}\nEND $ledger$`]);

export class Ledger {
  readonly schema: string;
  private readonly client: SqlClient;
  /** Once seen, the ledger exists for good (it is never dropped by offpeak): saves a round trip per read. */
  private known = false;
  /** The tables and execute_step exist at LEDGER_VERSION (checked or made by `ensure`). */
  private complete = false;

  constructor(client: SqlClient, schema: string = DEFAULT_LEDGER_SCHEMA) {
    this.client = client;
    this.schema = schema;
  }

  table(name: string) {
    return sql.ident(this.schema, name);
  }

  /** Whether the ledger's tables exist, and whether they and execute_step are at LEDGER_VERSION, in one round trip. */
  private async look(): Promise<{ tables: boolean; current: boolean; complete: boolean; owner: string | null }> {
    const events = `${quoteIdent(this.schema)}.migration_events`;
    const { rows } = await this.client.query<{ tables: boolean; fn: boolean; mark: string | null; owner: string | null }>(
      sql`SELECT to_regclass(${`${quoteIdent(this.schema)}.migration_tables`}) IS NOT NULL AS tables,
                 to_regprocedure(${`${quoteIdent(this.schema)}.execute_step(text,text)`}) IS NOT NULL AS fn,
                 obj_description(to_regclass(${events}), 'pg_class') AS mark,
                 (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = to_regclass(${events})) AS owner`.idempotent(),
    );
    const tables = rows[0]?.tables === true;
    const current = tables && markedVersion(rows[0]?.mark) >= LEDGER_VERSION;
    return { tables, current, complete: current && rows[0]?.fn === true, owner: rows[0]?.owner ?? null };
  }

  /** One round trip: does the ledger exist? */
  async exists(): Promise<boolean> {
    if (this.known) return true;
    this.known = (await this.look()).tables;
    return this.known;
  }

  /**
   * Creates the schema, tables and function if missing, and upgrades a ledger an earlier offpeak made (UPGRADES),
   * all in one statement; safe to call concurrently from several runs.
   */
  async ensure(): Promise<void> {
    if (this.complete) return;
    const seen = await this.look();
    if (seen.complete) {
      this.known = this.complete = true;
      return;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        // Tables at this version lacking only execute_step: add it alone, which needs CREATE on the schema, not ownership.
        await this.client.query((seen.current ? executeStepOnly(this.schema) : ledgerDdl(this.schema)).idempotent());
        this.known = this.complete = true;
        return;
      } catch (error) {
        if (attempt < 10 && error instanceof DatabaseError && CONCURRENT_CREATE_SQLSTATES.has(error.sqlState ?? '')) continue;
        if (seen.current && error instanceof DatabaseError && error.sqlState === '42501') {
          throw new ConfigError(
            `the ledger in schema ${this.schema} lacks ${this.schema}.execute_step, which this role ` +
              `may not create: run offpeak once as the ledger's owner, or GRANT CREATE ON SCHEMA ${quoteIdent(this.schema)} to this role`,
            { cause: error, context: { schema: this.schema } },
          );
        }
        if (seen.tables && error instanceof DatabaseError && error.sqlState === '42501') {
          throw new ConfigError(
            `the ledger in schema ${this.schema} was made by an earlier offpeak and needs an upgrade (new columns, ` +
              `${this.schema}.execute_step) that only its owner${seen.owner ? ` (role ${seen.owner})` : ''} may make: run offpeak once as that ` +
              `role, then again as this one. Nothing was changed.`,
            { cause: error, context: { schema: this.schema, owner: seen.owner } },
          );
        }
        throw error;
      }
    }
  }

  async applied(): Promise<AppliedRow[]> {
    if (!(await this.exists())) return [];
    const { rows } = await this.client.query<{
      revision: string;
      checksum: string;
      applied_at: Date;
      duration_ms: number;
      actor: string;
      description: string;
      run_id: string | null;
      recorded_only: boolean;
    }>(sql`SELECT revision, checksum, applied_at, duration_ms, actor, description, run_id, recorded_only
           FROM ${this.table('applied_migrations')} ORDER BY applied_at, revision`.idempotent());
    return rows.map((r) => ({
      revision: r.revision,
      checksum: r.checksum,
      appliedAt: r.applied_at,
      durationMs: r.duration_ms,
      actor: r.actor,
      description: r.description,
      runId: r.run_id,
      recordedOnly: r.recorded_only,
    }));
  }

  /** The revision(s) in an Alembic `alembic_version` table on the search path, or undefined when there is none. */
  async alembicVersions(): Promise<string[] | undefined> {
    const { rows } = await this.client.query<{ found: boolean }>(
      sql`SELECT to_regclass('alembic_version') IS NOT NULL AS found`.idempotent(),
    );
    if (!rows[0]?.found) return undefined;
    const versions = await this.client.query<{ version_num: string }>(sql`SELECT version_num FROM alembic_version ORDER BY version_num`.idempotent());
    return versions.rows.map((r) => r.version_num);
  }

  /**
   * Writes a journal entry in one statement (inside the caller's transaction when `executor` is one) and
   * returns the row of `select`, the statement's final SELECT (default: `ok`, the value of `when`).
   * `when` gates every write: when it is false, nothing is written (data-modifying CTEs run whether or not
   * the final SELECT reads them, so each carries the gate). It lets a write depend on the catalog without
   * a round trip of its own, e.g. "done only if the index is valid"; `select` lets a read of the state
   * (or a `set_config`) ride on the write.
   */
  async journal<T = { ok: boolean }>(executor: SqlExecutor, entry: JournalEntry, options: JournalOptions = {}): Promise<T | undefined> {
    const statement = this.journalStatement(entry, options);
    // Without a `select` (which may run a step), and with every event keyed (a second insert is a no-op), the entry only
    // sets values: writing it twice is harmless, so a lost response may be resent.
    const idempotent = !options.select && (entry.events ?? []).every((e) => e.key != null);
    const { rows } = await executor.query<T>(idempotent ? statement.idempotent() : statement);
    return rows[0];
  }

  /** The statement `journal` runs, for a caller that sends it another way (e.g. `executeLong`, when `select` runs a long step). */
  journalStatement(entry: JournalEntry, options: JournalOptions = {}): SqlQuery {
    const gate = sql`(SELECT g.ok FROM gate AS g)`;
    // asyncCommit: an autocommit write whose commit need not wait for the WAL flush. Only for entries the
    // catalog can re-derive after a crash; any later ordinary commit (a run always ends with one) flushes it too.
    const quick = options.asyncCommit ? sql`, set_config('synchronous_commit', 'off', true) AS quick` : sql``;
    const ctes: SqlQuery[] = [sql`gate AS (SELECT coalesce((${options.when ?? sql`true`}), false) AS ok${quick})`];
    const events = entry.events ?? [];
    if (events.length) {
      const rows = events.map((e) => ({
        revision: e.revision,
        direction: e.direction,
        step: e.step,
        status: e.status,
        error: e.error ?? null,
        sqlstate: e.sqlState ?? null,
        duration_ms: e.durationMs ?? null,
        event_key: e.key ?? null,
      }));
      ctes.push(sql`ev AS (INSERT INTO ${this.table('migration_events')} (run_id, revision, direction, step, status, error, sqlstate, duration_ms, event_key)
        SELECT ${entry.runId}, x.revision, x.direction, x.step, x.status, x.error, x.sqlstate, x.duration_ms, x.event_key
        FROM jsonb_to_recordset(${sql.json(rows)}::jsonb)
          AS x(revision text, direction text, step integer, status text, error text, sqlstate text, duration_ms integer, event_key text) WHERE ${gate}
        ON CONFLICT (event_key) DO NOTHING)`);
    }
    const unapplied = entry.unapplied ?? [];
    if (unapplied.length) {
      const list = sql`SELECT jsonb_array_elements_text(${sql.json(unapplied)}::jsonb)`;
      ctes.push(sql`unap AS (DELETE FROM ${this.table('applied_migrations')} WHERE revision IN (${list}) AND ${gate})`);
      ctes.push(sql`untab AS (DELETE FROM ${this.table('migration_tables')} WHERE revision IN (${list}) AND ${gate})`);
    }
    const applied = entry.applied ?? [];
    if (applied.length) {
      const rows = applied.map((a) => ({ revision: a.revision, checksum: a.checksum, duration_ms: Math.round(a.durationMs), actor: a.actor, description: a.description, recorded_only: a.recordedOnly }));
      ctes.push(sql`ap AS (INSERT INTO ${this.table('applied_migrations')} (revision, checksum, duration_ms, actor, description, run_id, recorded_only)
        SELECT x.revision, x.checksum, x.duration_ms, x.actor, x.description, ${entry.runId}, x.recorded_only
        FROM jsonb_to_recordset(${sql.json(rows)}::jsonb) AS x(revision text, checksum text, duration_ms integer, actor text, description text, recorded_only boolean)
        WHERE ${gate}
        ON CONFLICT (revision) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now(), duration_ms = EXCLUDED.duration_ms,
          actor = EXCLUDED.actor, description = EXCLUDED.description, run_id = EXCLUDED.run_id, recorded_only = EXCLUDED.recorded_only)`);
      const tables = applied.flatMap((a) => a.tables.map(([schema, table]) => ({ revision: a.revision, schema_name: schema, table_name: table })));
      if (tables.length) {
        ctes.push(sql`tab AS (INSERT INTO ${this.table('migration_tables')} (revision, schema_name, table_name, applied_at)
          SELECT DISTINCT x.revision, x.schema_name, x.table_name, now()
          FROM jsonb_to_recordset(${sql.json(tables)}::jsonb) AS x(revision text, schema_name text, table_name text)
          WHERE ${gate}
          ON CONFLICT (revision, schema_name, table_name) DO UPDATE SET applied_at = EXCLUDED.applied_at)`);
      }
    }
    const durations = entry.durations ?? [];
    if (durations.length) {
      // Durations of migrations committed earlier (their bookkeeping is written before their DDL runs).
      ctes.push(sql`dur AS (UPDATE ${this.table('applied_migrations')} AS a SET duration_ms = x.duration_ms
        FROM jsonb_to_recordset(${sql.json(durations.map((d) => ({ revision: d.revision, duration_ms: Math.round(d.durationMs) })))}::jsonb) AS x(revision text, duration_ms integer)
        WHERE a.revision = x.revision AND ${gate})`);
    }
    if (entry.buildSample) {
      const b = entry.buildSample;
      ctes.push(sql`bs AS (INSERT INTO ${this.table('index_build_samples')} (access_method, bytes, seconds, source, index_name, table_name, run_id)
        SELECT am.amname, pg_relation_size(c.oid), extract(epoch FROM clock_timestamp() - e.at)::float8, 'run', ${b.index}, ${`${b.schema}.${b.table}`}, ${entry.runId}
        FROM pg_class c JOIN pg_am am ON am.oid = c.relam
          JOIN ${this.table('migration_events')} e ON e.event_key = ${b.startedKey}
        WHERE c.oid = to_regclass(${`${quoteIdent(b.schema)}.${quoteIdent(b.index)}`}) AND clock_timestamp() > e.at
          -- the index was made after the attempt started (IF NOT EXISTS skips one already there: that was no build)
          AND age(c.xmin) <= age(e.xmin) AND ${gate})`);
    }
    if (entry.run) {
      const status = entry.run.status ?? null;
      const position = entry.run.position ?? null;
      const error = entry.run.error === undefined ? sql`error` : sql`${entry.run.error}`;
      ctes.push(sql`run AS (UPDATE ${this.table('migration_runs')} SET position = coalesce(${position}::integer, position),
        status = coalesce(${status}::text, status), error = ${error}, updated_at = now() WHERE run_id = ${entry.runId} AND ${gate})`);
    }
    return sql`WITH ${sql.join(ctes, ',\n')} ${options.select ?? sql`SELECT ${gate} AS ok`}`.repeatedly();
  }

  /** `execute_step(statement, lockTimeout)` as an expression, for a journal entry's `select`. */
  executeStep(statement: string, lockTimeout: string | null): SqlQuery {
    return sql`${sql.ident(this.schema, 'execute_step')}(${statement}, ${lockTimeout}::text)`;
  }

  async createRun(run: { runId: string; target: string; direction: Direction; plan: unknown; actor: string }): Promise<void> {
    await this.client.query(sql`INSERT INTO ${this.table('migration_runs')} (run_id, target, direction, status, plan, position, actor)
      VALUES (${run.runId}, ${run.target}, ${run.direction}, 'in_progress', ${sql.json(run.plan)}::jsonb, 0, ${run.actor})
      ON CONFLICT (run_id) DO NOTHING`.idempotent());
  }

  async setRunStatus(runId: string, status: RunStatus, error: string | null = null): Promise<void> {
    await this.client.query(sql`UPDATE ${this.table('migration_runs')} SET status = ${status}, error = ${error}, updated_at = now() WHERE run_id = ${runId}`.idempotent());
  }

  /** Whether an event with this key was written (e.g. a `done` that commits only with its statement). */
  async eventExists(key: string): Promise<boolean> {
    const { rows } = await this.client.query<{ found: boolean }>(sql`SELECT EXISTS (SELECT 1 FROM ${this.table('migration_events')} WHERE event_key = ${key}) AS found`.idempotent());
    return rows[0]?.found === true;
  }

  /** Marks a failed run as resumed now: budgets counted from the ledger (index build attempts) start again. */
  async markResumed(runId: string): Promise<void> {
    await this.client.query(sql`UPDATE ${this.table('migration_runs')} SET resumed_at = now(), updated_at = now() WHERE run_id = ${runId}`.idempotent());
  }

  /**
   * A step's index build attempts in this run: how many were `started` and `failed` in all, how many failed
   * since the run started or was last resumed after failing (the budget counts those), and the last failure's
   * cause. An attempt is `started` before its build runs and `failed` once for its INVALID outcome, both keyed
   * by attempt number (`buildEventKey`), so a retried write counts once.
   */
  async buildAttempts(runId: string, revision: string, direction: Direction, step: number): Promise<BuildAttempts> {
    const { rows } = await this.client.query<{ started: number; failed: number; spent: number; error: string | null; sqlstate: string | null }>(sql`
      SELECT count(*) FILTER (WHERE e.status = 'started')::int AS started, count(*) FILTER (WHERE e.status = 'failed')::int AS failed,
             count(*) FILTER (WHERE e.status = 'failed' AND e.at >= coalesce(r.resumed_at, r.started_at))::int AS spent,
             (array_agg(e.error ORDER BY e.id DESC) FILTER (WHERE e.status = 'failed'))[1] AS error,
             (array_agg(e.sqlstate ORDER BY e.id DESC) FILTER (WHERE e.status = 'failed'))[1] AS sqlstate
      FROM ${this.table('migration_events')} AS e JOIN ${this.table('migration_runs')} AS r ON r.run_id = e.run_id
      WHERE e.run_id = ${runId} AND e.revision = ${revision} AND e.direction = ${direction} AND e.step = ${step}
        AND e.event_key LIKE 'build:%'`.withJsonRows().idempotent());
    const r = rows[0];
    return { started: r?.started ?? 0, failed: r?.failed ?? 0, spent: r?.spent ?? 0, lastError: r?.error ?? null, lastSqlState: r?.sqlstate ?? null };
  }

  async getRun(runId: string): Promise<RunRow | undefined> {
    if (!(await this.exists())) return undefined;
    const { rows } = await this.client.query<Record<string, unknown>>(sql`SELECT * FROM ${this.table('migration_runs')} WHERE run_id = ${runId}`.idempotent());
    return rows[0] && toRun(rows[0]);
  }

  /**
   * Milliseconds since the first step of a migration started in this run (since it was last resumed), on the
   * database's clock: from the earliest started, done or skipped event of the migration (a done event's start
   * is its time less its duration). Null when none is journaled. Durations of migrations whose steps span
   * advance calls are measured from it.
   */
  async elapsedSinceFirstStep(runId: string, revision: string, direction: Direction): Promise<number | null> {
    const { rows } = await this.client.query<{ elapsed_ms: number | null }>(
      sql`SELECT (extract(epoch FROM clock_timestamp() - min(e.at - coalesce(e.duration_ms, 0) * interval '1 millisecond')) * 1000)::float8 AS elapsed_ms
          FROM ${this.table('migration_events')} e JOIN ${this.table('migration_runs')} r ON r.run_id = e.run_id
          WHERE e.run_id = ${runId} AND e.revision = ${revision} AND e.direction = ${direction} AND e.step >= 0
            AND e.status IN ('started', 'done', 'skipped') AND e.at >= coalesce(r.resumed_at, '-infinity'::timestamptz)`.idempotent(),
    );
    return rows[0]?.elapsed_ms ?? null;
  }

  /** Every run that has not finished (in_progress, window_closed or failed), newest first. */
  async unfinishedRuns(): Promise<RunRow[]> {
    if (!(await this.exists())) return [];
    const { rows } = await this.client.query<Record<string, unknown>>(
      sql`SELECT * FROM ${this.table('migration_runs')} WHERE status IN ('in_progress', 'window_closed', 'failed')
          ORDER BY started_at DESC, run_id DESC`,
    );
    return rows.map(toRun);
  }

  /**
   * Ends unfinished runs as `abandoned` with `reason` (all of them, or those in `runIds`); returns the ids
   * it ended. Their journals stay.
   */
  async abandonRuns(reason: string, runIds?: readonly string[]): Promise<string[]> {
    const only = runIds ? sql`AND run_id IN (SELECT jsonb_array_elements_text(${sql.json(runIds)}::jsonb))` : sql``;
    const { rows } = await this.client.query<{ run_id: string }>(
      sql`UPDATE ${this.table('migration_runs')} SET status = 'abandoned', error = ${reason}, updated_at = now()
          WHERE status IN ('in_progress', 'window_closed', 'failed') ${only} RETURNING run_id`,
    );
    return rows.map((r) => r.run_id);
  }

  /** Stores a new plan for a run (re-planned on resume): position 0, in progress. Its journal stays. */
  async replan(runId: string, plan: unknown): Promise<void> {
    await this.client.query(sql`UPDATE ${this.table('migration_runs')} SET plan = ${sql.json(plan)}::jsonb, position = 0, status = 'in_progress',
      error = NULL, updated_at = now() WHERE run_id = ${runId}`);
  }

  /** The most recent run that has not finished (in_progress, window_closed or failed). */
  async latestUnfinishedRun(): Promise<RunRow | undefined> {
    const { rows } = await this.client.query<Record<string, unknown>>(
      sql`SELECT * FROM ${this.table('migration_runs')} WHERE status IN ('in_progress', 'window_closed', 'failed')
          ORDER BY started_at DESC, run_id DESC LIMIT 1`.idempotent(),
    );
    return rows[0] && toRun(rows[0]);
  }

  async events(runId: string): Promise<EventRow[]> {
    const { rows } = await this.client.query<Record<string, unknown>>(
      sql`SELECT run_id, revision, direction, step, status, error, sqlstate, duration_ms, event_key, at FROM ${this.table('migration_events')} WHERE run_id = ${runId} ORDER BY id`.idempotent(),
    );
    return rows.map((r) => ({
      runId: r['run_id'] as string,
      revision: r['revision'] as string,
      direction: r['direction'] as Direction,
      step: r['step'] as number,
      status: r['status'] as EventStatus,
      error: (r['error'] as string | null) ?? null,
      sqlState: (r['sqlstate'] as string | null) ?? null,
      durationMs: (r['duration_ms'] as number | null) ?? null,
      key: (r['event_key'] as string | null) ?? null,
      at: r['at'] as Date,
    }));
  }
}

function toRun(r: Record<string, unknown>): RunRow {
  return {
    runId: r['run_id'] as string,
    target: r['target'] as string,
    direction: r['direction'] as Direction,
    status: r['status'] as RunStatus,
    plan: r['plan'],
    position: r['position'] as number,
    actor: r['actor'] as string,
    error: (r['error'] as string | null) ?? null,
    startedAt: r['started_at'] as Date,
    updatedAt: r['updated_at'] as Date,
    resumedAt: (r['resumed_at'] as Date | null | undefined) ?? null,
  };
}


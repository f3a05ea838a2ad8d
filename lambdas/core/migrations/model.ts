import { displayIdent } from '../db/sql.ts';
import { ValidationError } from '../errors.ts';
import { parseTableName } from './planner.ts';

/**
 * The migration model. A migration is a TS module in migrations/ that
 * default-exports defineMigration({...}). Every step is exactly one SQL
 * statement (the Data API takes one per call), as static text: migrations
 * are previewed with --sql and checksummed, so they carry no parameters.
 */

export type Risk = 'low' | 'medium' | 'high';

/**
 * transactional: runs inside the migration's single transaction.
 * standalone: autocommit, outside any transaction (CONCURRENTLY, ALTER TYPE … ADD VALUE, VACUUM).
 */
export type StepMode = 'transactional' | 'standalone';

/**
 * How the step locks, which decides its lock_timeout policy in the runner:
 * strong: ACCESS EXCLUSIVE-ish DDL → short lock_timeout, retry with backoff on 55P03;
 * concurrent: CONCURRENTLY work → long lock_timeout (a short one would cancel the build and leave an INVALID index);
 * none: data changes and other statements that take ordinary locks.
 */
export type LockLevel = 'strong' | 'concurrent' | 'none';

export interface IndexSpec {
  name: string;
  table: string;
  /** Default 'public'. */
  schema?: string;
  /** Key columns or expressions, verbatim SQL, e.g. ['user_id', 'created_at DESC', 'lower(email)']. */
  columns: string[];
  /** Access method: btree (default), hash, gin, gist, brin, ivfflat, hnsw. */
  using?: string;
  /** Storage parameters, e.g. { lists: 100 } for ivfflat, { m: 16, ef_construction: 64 } for hnsw. */
  with?: Record<string, string | number | boolean>;
  /** Partial-index predicate, verbatim SQL. */
  where?: string;
  include?: string[];
  unique?: boolean;
  /** Default true. False only for tables created in the same transactional migration. */
  concurrently?: boolean;
}

/** A condition under which a step runs; otherwise it is reported as skipped. */
export interface StepCondition {
  /** The step needs this extension to be available on the server (pg_available_extensions). */
  extensionAvailable: string;
}

interface StepBase {
  /** Exactly one SQL statement. */
  sql: string;
  mode: StepMode;
  lock: LockLevel;
  /** One line for history, progress and logs. */
  description: string;
  /** When set and unmet, the step is skipped and reported as skipped, not failed. */
  when?: StepCondition;
  /** Lint rules this step may break, each with why (`offpeak lint`); not part of the checksum. */
  lint?: { disable: LintOverride[] };
}

export interface SqlStep extends StepBase {
  kind: 'sql';
  /**
   * An override of the tables this statement changes, as 'table' or 'schema.table' (default schema
   * public; PostgreSQL's identifier rules: unquoted names fold to lower case, "Quoted" ones keep it).
   * Without it, the tables come from the parser when the migrations are loaded from a directory
   * (`parsedTables`). The runner ANALYZEs them after an upgrade and records them in
   * offpeak.migration_tables. Lambda bundles carry no SQL parser, so there only a declaration
   * counts; `offpeak check` reports a declaration that differs from what the parser finds.
   */
  tables?: string[];
  /** Set by `loadMigrationsFromDir`: the tables the parser finds the statement changing, as [schema, table]. */
  parsedTables?: Array<[string, string]>;
  /**
   * Standalone steps only: `SELECT …` returning one row whose one column is true when the step's work is done.
   * The runner asks it when the statement's own outcome is unknown (it ran past its Data API call and ended,
   * or a killed run left it) and journals the step `done` only if it says true. A standalone step that may run
   * past its call should have one: without it such a step ends `unknown` and fails the run. Not part of the
   * checksum, so one can be added to a migration already applied or under way.
   */
  verify?: string;
}

export interface CreateIndexStep extends StepBase {
  kind: 'create_index';
  index: Required<Pick<IndexSpec, 'name' | 'table' | 'schema'>> & IndexSpec;
}

export interface DropIndexStep extends StepBase {
  kind: 'drop_index';
  index: { name: string; schema: string; table?: string };
  /** The index this drop removes, when known, so the drop can be inverted. */
  restore?: IndexSpec;
}

export type Step = SqlStep | CreateIndexStep | DropIndexStep;

export interface LintOverride {
  /** Rule id, e.g. 'locking/alter-column-type'. */
  rule: string;
  /** Why breaking the rule is right here. Required. */
  reason: string;
}

/**
 * What an index is for: a query the migration's index should serve (`offpeak` checks it after the run's builds and
 * ANALYZE, and `verify-plans` / the nightly report re-check it). Not part of the checksum, like `verify`.
 */
export interface PlanExpectation {
  /** Unique within the migration, e.g. 'dialogs by user'. */
  name: string;
  /** One read-only statement (SELECT, WITH … SELECT, VALUES); $1, $2 … for parameters. */
  sql: string;
  /**
   * Values for $1, $2 …: needed by `measure` (EXPLAIN ANALYZE runs the query). The plan check itself uses the
   * generic plan (plan_cache_mode = force_generic_plan), which does not depend on them.
   */
  params?: Array<string | number | boolean | null>;
  /** The index the plan should use: 'name' or 'schema.name'. */
  usesIndex: string;
  /** EXPLAIN ANALYZE before and after the build, bounded by a statement timeout, to report the speed-up. Runs the query. */
  measure?: boolean;
}

export interface MigrationInput {
  revision: string;
  /** null for a root; several for a merge. */
  downRevision: string | string[] | null;
  description: string;
  risk: Risk;
  /** Required above low risk: what an operator does to undo this. */
  rollbackPlan?: string;
  up: Step[];
  /**
   * Omitted: derived by inverting `up` in reverse order (every step must be invertible).
   * { irreversible: reason }: no down; downgrading past this migration is refused.
   */
  down?: Step[] | { irreversible: string };
  /**
   * A migration may not mix strong-lock DDL and CONCURRENTLY work unless it says why:
   * the strong locks would be held, or retried, around a long build.
   */
  mixedLocking?: { reason: string };
  /** For a squash: the revisions this migration replaces. */
  replaces?: string[];
  lint?: { disable?: LintOverride[] };
  /** Queries this migration's indexes are for (plan proof); not part of the checksum. */
  expect?: PlanExpectation[];
}

export interface Migration {
  revision: string;
  downRevisions: string[];
  description: string;
  risk: Risk;
  rollbackPlan: string | undefined;
  up: Step[];
  down: Step[];
  irreversible: string | undefined;
  /** True when every step of the direction is transactional: the whole direction runs in one transaction. */
  transactional: { up: boolean; down: boolean };
  mixedLocking: { reason: string } | undefined;
  replaces: string[];
  lint: { disable: LintOverride[] };
  /** Plan expectations (see PlanExpectation); [] when none. */
  expect: PlanExpectation[];
}

/** Filled in by the loader: where the migration came from and its checksum. */
export interface LoadedMigration extends Migration {
  file: string;
  checksum: string;
}

const REVISION = /^[A-Za-z0-9_]{1,64}$/;

export function defineMigration(input: MigrationInput): Migration {
  const where = `migration ${JSON.stringify(input.revision)}`;
  if (typeof input.revision !== 'string' || !REVISION.test(input.revision)) {
    throw new ValidationError(`${where}: revision must be 1-64 letters, digits or underscores`);
  }
  const downRevisions = input.downRevision === null ? [] : Array.isArray(input.downRevision) ? input.downRevision : [input.downRevision];
  for (const d of downRevisions) {
    if (typeof d !== 'string' || !REVISION.test(d)) throw new ValidationError(`${where}: down revision ${JSON.stringify(d)} is not a valid revision id`);
  }
  if (new Set(downRevisions).size !== downRevisions.length) throw new ValidationError(`${where}: a down revision is listed twice`);
  if (!['low', 'medium', 'high'].includes(input.risk)) throw new ValidationError(`${where}: risk must be low, medium or high`);
  if (input.risk !== 'low' && !input.rollbackPlan?.trim()) {
    throw new ValidationError(`${where}: a ${input.risk}-risk migration needs a rollbackPlan`);
  }
  // An empty `up` loads, so `offpeak new` can scaffold on top of a scaffold not yet written; `check` and the
  // planner refuse it unless the migration is a merge (several down revisions), which may have no steps.
  if (!Array.isArray(input.up)) throw new ValidationError(`${where}: up must be a list of steps`);

  let down: Step[];
  let irreversible: string | undefined;
  if (input.down === undefined) {
    down = [...input.up].reverse().map((step, i) => {
      const inverse = invertStep(step);
      if (!inverse) {
        throw new ValidationError(
          `${where}: up step ${input.up.length - i} (${step.description}) has no automatic inverse: write down steps, or mark down as { irreversible: reason }`,
        );
      }
      return inverse;
    });
  } else if (Array.isArray(input.down)) {
    down = input.down;
  } else {
    if (!input.down.irreversible?.trim()) throw new ValidationError(`${where}: an irreversible migration must give a reason`);
    down = [];
    irreversible = input.down.irreversible;
  }

  for (const [direction, steps] of [['up', input.up], ['down', down]] as const) {
    const numbersOf = (lock: Step['lock']) => steps.flatMap((s, i) => (s.lock === lock ? [i + 1] : []));
    const strong = numbersOf('strong');
    const concurrent = numbersOf('concurrent');
    if (strong.length > 0 && concurrent.length > 0 && !input.mixedLocking?.reason.trim()) {
      // A sqlStep without `lock` is 'strong' (the safe default), so a plain SELECT between two builds lands here too.
      throw new ValidationError(
        `${where}: ${direction} mixes strong-lock DDL with CONCURRENTLY work; split it into two migrations or set mixedLocking: { reason }` +
          ` (strong: step ${strong.join(', ')}; concurrent: step ${concurrent.join(', ')}; a sqlStep without \`lock\` counts as 'strong': give a step that takes no lock \`lock: 'none'\`)`,
      );
    }
  }

  return {
    revision: input.revision,
    downRevisions,
    description: input.description,
    risk: input.risk,
    rollbackPlan: input.rollbackPlan,
    up: input.up,
    down,
    irreversible,
    transactional: { up: input.up.every((s) => s.mode === 'transactional'), down: down.every((s) => s.mode === 'transactional') },
    mixedLocking: input.mixedLocking,
    replaces: input.replaces ?? [],
    lint: { disable: input.lint?.disable ?? [] },
    expect: validateExpectations(where, input.expect),
  };
}

const READ_ONLY = /^\s*(select|with|values|table)\b/i;

/** The highest $n in a statement, outside quotes and comments (0 when it takes no parameters). */
export function parameterCount(statement: string): number {
  const text = statement.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|\$([A-Za-z_][A-Za-z_0-9]*)?\$[\s\S]*?\$\1\$/g, ' ');
  return [...text.matchAll(/\$(\d+)/g)].reduce((max, m) => Math.max(max, Number(m[1])), 0);
}

function validateExpectations(where: string, input: PlanExpectation[] | undefined): PlanExpectation[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw new ValidationError(`${where}: expect must be a list of { name, sql, usesIndex, params?, measure? }`);
  const names = new Set<string>();
  return input.map((e, i) => {
    const at = `${where}: expect[${i}]${typeof e?.name === 'string' && e.name.trim() ? ` (${JSON.stringify(e.name)})` : ''}`;
    if (typeof e !== 'object' || e === null) throw new ValidationError(`${at}: must be an object { name, sql, usesIndex, params?, measure? }`);
    if (typeof e.name !== 'string' || !e.name.trim()) throw new ValidationError(`${at}: name is required, e.g. name: 'dialogs by user'`);
    if (names.has(e.name)) throw new ValidationError(`${at}: the name is used twice in this migration; give each expectation its own name`);
    names.add(e.name);
    const text = typeof e.sql === 'string' ? e.sql.trim().replace(/;\s*$/, '') : '';
    if (!text) throw new ValidationError(`${at}: sql is required: the query the index is for`);
    if (!READ_ONLY.test(text)) throw new ValidationError(`${at}: sql must be one read-only query (SELECT, WITH … SELECT, VALUES): the plan check EXPLAINs it and measure runs it`);
    if (typeof e.usesIndex !== 'string' || !/^[^.\s]+(\.[^.\s]+)?$/.test(e.usesIndex)) {
      throw new ValidationError(`${at}: usesIndex must name one index, as 'idx_name' or 'schema.idx_name'`);
    }
    if (e.params !== undefined) {
      if (!Array.isArray(e.params) || !e.params.every((p) => p === null || ['string', 'number', 'boolean'].includes(typeof p))) {
        throw new ValidationError(`${at}: params must be a list of strings, numbers, booleans or null (one for each $n)`);
      }
      if (e.params.some((p) => typeof p === 'number' && !Number.isFinite(p))) throw new ValidationError(`${at}: params must be finite numbers`);
    }
    const needed = parameterCount(text);
    if (e.params !== undefined && e.params.length !== needed) {
      throw new ValidationError(`${at}: sql takes ${needed} parameter(s) ($1…$${needed}) but params has ${e.params.length}`);
    }
    if (e.measure !== undefined && typeof e.measure !== 'boolean') throw new ValidationError(`${at}: measure must be true or false`);
    if (e.measure && needed > 0 && e.params === undefined) {
      throw new ValidationError(`${at}: measure runs the query (EXPLAIN ANALYZE), so it needs params for its ${needed} parameter(s)`);
    }
    return { name: e.name, sql: text, usesIndex: e.usesIndex, ...(e.params !== undefined ? { params: e.params } : {}), ...(e.measure ? { measure: true } : {}) };
  });
}

/** The step that undoes `step`, or undefined when it cannot be derived. */
export function invertStep(step: Step): Step | undefined {
  switch (step.kind) {
    case 'create_index':
      return dropIndex({ name: step.index.name, schema: step.index.schema, table: step.index.table, restore: step.index, concurrently: step.mode === 'standalone', ...(step.when ? { when: step.when } : {}) });
    case 'drop_index':
      return step.restore ? createIndex({ ...step.restore, concurrently: step.mode === 'standalone' }, step.when ? { when: step.when } : {}) : undefined;
    case 'sql':
      return undefined;
  }
}

// ---------------------------------------------------------------- builders

function withClause(params: Record<string, string | number | boolean>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k} = ${typeof v === 'string' ? `'${v.replaceAll("'", "''")}'` : String(v)}`)
    .join(', ');
}

/** CREATE [UNIQUE] INDEX [CONCURRENTLY] IF NOT EXISTS … ; inverse: DROP INDEX [CONCURRENTLY] IF EXISTS. */
export function createIndex(spec: IndexSpec, options: { when?: StepCondition; description?: string; lint?: { disable: LintOverride[] } } = {}): CreateIndexStep {
  if (!spec.columns?.length) throw new ValidationError(`createIndex ${spec.name}: at least one column or expression is required`);
  const schema = spec.schema ?? 'public';
  const concurrently = spec.concurrently ?? true;
  const using = spec.using && spec.using.toLowerCase() !== 'btree' ? ` USING ${spec.using}` : '';
  const parts = [
    `CREATE ${spec.unique ? 'UNIQUE ' : ''}INDEX ${concurrently ? 'CONCURRENTLY ' : ''}IF NOT EXISTS ${displayIdent(spec.name)}`,
    ` ON ${displayIdent(schema)}.${displayIdent(spec.table)}${using} (${spec.columns.join(', ')})`,
    spec.include?.length ? ` INCLUDE (${spec.include.join(', ')})` : '',
    spec.with && Object.keys(spec.with).length ? ` WITH (${withClause(spec.with)})` : '',
    spec.where ? ` WHERE ${spec.where}` : '',
  ];
  return {
    kind: 'create_index',
    sql: parts.join(''),
    mode: concurrently ? 'standalone' : 'transactional',
    lock: concurrently ? 'concurrent' : 'strong',
    description: options.description ?? `create index ${spec.name} on ${spec.table}`,
    index: { ...spec, schema, concurrently },
    ...(options.when ? { when: options.when } : {}),
    ...(options.lint ? { lint: options.lint } : {}),
  };
}

/** DROP INDEX [CONCURRENTLY] IF EXISTS … ; with `restore`, its inverse recreates the index. */
export function dropIndex(spec: {
  name: string;
  schema?: string;
  table?: string;
  restore?: IndexSpec;
  concurrently?: boolean;
  when?: StepCondition;
  description?: string;
  lint?: { disable: LintOverride[] };
}): DropIndexStep {
  const schema = spec.schema ?? 'public';
  const concurrently = spec.concurrently ?? true;
  return {
    kind: 'drop_index',
    sql: `DROP INDEX ${concurrently ? 'CONCURRENTLY ' : ''}IF EXISTS ${displayIdent(schema)}.${displayIdent(spec.name)}`,
    mode: concurrently ? 'standalone' : 'transactional',
    lock: concurrently ? 'concurrent' : 'strong',
    description: spec.description ?? `drop index ${spec.name}`,
    index: { name: spec.name, schema, ...(spec.table ? { table: spec.table } : {}) },
    ...(spec.restore ? { restore: spec.restore } : {}),
    ...(spec.when ? { when: spec.when } : {}),
    ...(spec.lint ? { lint: spec.lint } : {}),
  };
}

/** A raw SQL step. Say how it runs and how it locks; there is no automatic inverse. */
export function sqlStep(
  statement: string,
  options: {
    mode?: StepMode;
    lock?: LockLevel;
    description?: string;
    when?: StepCondition;
    tables?: string[];
    /** See `SqlStep.verify`. */
    verify?: string;
    lint?: { disable: LintOverride[] };
  } = {},
): SqlStep {
  const text = statement.trim().replace(/;\s*$/, '');
  // A declared table that is not a name fails here, naming it, not at the end of a run.
  options.tables?.forEach(parseTableName);
  const verify = options.verify?.trim().replace(/;\s*$/, '');
  if (options.verify !== undefined) {
    const where = `sqlStep ${JSON.stringify(text.split('\n')[0]!.slice(0, 60))}`;
    if ((options.mode ?? 'transactional') !== 'standalone') {
      throw new ValidationError(`${where}: verify is for standalone steps (a transactional step's outcome is known when its transaction commits); drop it or set mode: 'standalone'`);
    }
    if (!verify || !/^(select|with|values)\b/i.test(verify)) {
      throw new ValidationError(`${where}: verify must be one SELECT statement returning one row with one boolean column, true when the step is done, e.g. verify: "SELECT EXISTS (SELECT 1 FROM pg_enum WHERE enumlabel = 'archived')"`);
    }
  }
  return {
    kind: 'sql',
    sql: text,
    mode: options.mode ?? 'transactional',
    lock: options.lock ?? 'strong',
    description: options.description ?? text.split('\n')[0]!.slice(0, 80),
    ...(options.when ? { when: options.when } : {}),
    ...(options.tables?.length ? { tables: options.tables } : {}),
    ...(verify ? { verify } : {}),
    ...(options.lint ? { lint: options.lint } : {}),
  };
}

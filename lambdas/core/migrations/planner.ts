/**
 * The planner: pure. Turns (graph, what the ledger holds, direction, target) into an ordered list of
 * plan units, and renders a plan as SQL for `--sql` previews.
 *
 * Units:
 * - `migration`: a migration whose steps (in this direction) are all transactional: its steps and its
 *   bookkeeping run in ONE transaction.
 * - `step`: one step of a migration that has standalone steps; each is journaled on its own, and the
 *   `last` one also records (or, going down, removes) the migration in the ledger.
 * - `record`: record a migration as applied without running anything — Alembic adoption, a squash whose
 *   replaced revisions were applied one by one.
 *
 * Squashes: on a fresh database a squash runs instead of the revisions it replaces; when some replaced
 * revisions are applied, the missing originals run first (their files must still exist) and the squash
 * is then recorded. Downgrading a squash runs its down steps and removes it and every revision it
 * replaces from the ledger.
 *
 * Alembic adoption: when the ledger is empty and `alembic_version` names revisions, every migration up
 * to them is recorded first (reason 'adoption'), without running.
 */
import { parseQualifiedName } from '../db/sql.ts';
import { MigrationGraphError, ValidationError } from '../errors.ts';
import type { MigrationGraph } from './graph.ts';
import type { Direction } from './ledger.ts';
import type { LoadedMigration, Step } from './model.ts';

export type PlanUnit =
  | { kind: 'migration'; revision: string; direction: Direction; checksum: string }
  | { kind: 'step'; revision: string; direction: Direction; checksum: string; step: number; last: boolean }
  | { kind: 'record'; revision: string; direction: 'up'; checksum: string; reason: 'adoption' | 'squash' };

export interface Plan {
  version: 1;
  direction: Direction;
  target: string;
  units: PlanUnit[];
}

export interface LedgerState {
  /** Revisions in applied_migrations. */
  applied: readonly string[];
  /** Revisions in an Alembic `alembic_version` table, when it exists. */
  alembic?: readonly string[] | undefined;
}

/** The revisions Alembic's version table implies, when the ledger is empty. */
export function adoptedRevisions(graph: MigrationGraph, state: LedgerState): string[] {
  if (state.applied.length > 0 || !state.alembic?.length) return [];
  const nodes = state.alembic.map((rev) => {
    if (!graph.all.has(rev) && !graph.replacedBy.has(rev)) {
      throw new MigrationGraphError(
        `alembic_version holds revision ${rev}, which no migration file declares: add a migration with that revision before adopting`,
        { context: { revision: rev } },
      );
    }
    return graph.node(rev);
  });
  const want = graph.ancestors(nodes);
  return graph.order.filter((r) => want.has(r));
}

/** Why a migration with no up steps may not run: only a merge (several down revisions) may be empty. */
export function emptyMigrationProblem(m: Pick<LoadedMigration, 'up' | 'downRevisions'>): string | undefined {
  if (m.up.length > 0 || m.downRevisions.length > 1) return undefined;
  return 'up must have at least one step (only a merge migration may have none): write its steps before upgrading';
}

function expand(m: LoadedMigration, direction: Direction): PlanUnit[] {
  if (direction === 'down' && m.irreversible !== undefined) {
    throw new MigrationGraphError(`${m.file} (${m.revision}) is irreversible: ${m.irreversible}`, {
      context: { file: m.file, revision: m.revision },
    });
  }
  if (direction === 'up') {
    const empty = emptyMigrationProblem(m);
    if (empty) throw new MigrationGraphError(`${m.file} (${m.revision}): ${empty}`, { context: { file: m.file, revision: m.revision } });
  }
  const steps = direction === 'up' ? m.up : m.down;
  if (m.transactional[direction]) return [{ kind: 'migration', revision: m.revision, direction, checksum: m.checksum }];
  return steps.map((_, i) => ({ kind: 'step', revision: m.revision, direction, checksum: m.checksum, step: i, last: i === steps.length - 1 }));
}

/** What the ledger (or, when it is empty, alembic_version) says is applied, in graph nodes. */
function effectiveState(graph: MigrationGraph, state: LedgerState) {
  const adopted = adoptedRevisions(graph, state);
  return { adopted, ...graph.appliedState(adopted.length ? adopted : state.applied) };
}

/**
 * The plan from this ledger state to `target`. With `nodes` (a resumed run's relative target), the plan
 * changes those nodes that still need it (going up: not applied; going down: applied) instead of
 * resolving the target again.
 */
export function buildPlan(graph: MigrationGraph, state: LedgerState, direction: Direction, target: string, nodes?: readonly string[]): Plan {
  const units: PlanUnit[] = [];
  const { adopted, applied, partial, unrecordedSquashes } = effectiveState(graph, state);
  for (const r of adopted) units.push({ kind: 'record', revision: r, direction: 'up', checksum: graph.get(r).checksum, reason: 'adoption' });
  for (const r of unrecordedSquashes) units.push({ kind: 'record', revision: r, direction: 'up', checksum: graph.get(r).checksum, reason: 'squash' });
  const targets = nodes
    ? nodes.filter((r) => applied.has(r) === (direction === 'down'))
    : direction === 'up'
      ? graph.upgradeTargets(target, applied)
      : graph.downgradeTargets(target, applied);

  if (direction === 'up') {
    for (const r of targets) {
      const squash = graph.get(r);
      const done = partial.get(r);
      if (!done) {
        units.push(...expand(squash, 'up'));
        continue;
      }
      for (const original of squash.replaces.filter((x) => !done.includes(x))) {
        const m = graph.all.get(original);
        if (!m) {
          throw new MigrationGraphError(
            `${squash.file} (${r}) replaces ${squash.replaces.join(', ')}; ${done.join(', ')} applied here but ${original}'s file is gone: restore it to finish the upgrade`,
            { context: { file: squash.file, revision: r, missing: original } },
          );
        }
        units.push(...expand(m, 'up'));
      }
      units.push({ kind: 'record', revision: r, direction: 'up', checksum: squash.checksum, reason: 'squash' });
    }
  } else {
    for (const r of targets) units.push(...expand(graph.get(r), 'down'));
  }
  return { version: 1, direction, target, units };
}

/** The steps a unit runs, with their index in the migration's direction. */
export function unitSteps(graph: MigrationGraph, unit: PlanUnit): Array<{ index: number; step: Step }> {
  if (unit.kind === 'record') return [];
  const m = graph.get(unit.revision);
  const steps = unit.direction === 'up' ? m.up : m.down;
  if (unit.kind === 'step') return [{ index: unit.step, step: steps[unit.step]! }];
  return steps.map((step, index) => ({ index, step }));
}

export interface PreviewStatement {
  revision: string;
  direction: Direction;
  /** Step index, or -1 for transaction control and bookkeeping comments. */
  step: number;
  sql: string;
  /** True when the statement runs outside any transaction (autocommit). */
  standalone: boolean;
  /** Set when the step only runs if the condition holds. */
  condition?: string;
}

export interface PreviewOptions {
  lockTimeoutMs: number;
}

/** Every statement a plan would run, in order. Changes nothing; needs no database. */
export function previewStatements(graph: MigrationGraph, plan: Plan, options: PreviewOptions): PreviewStatement[] {
  const out: PreviewStatement[] = [];
  const control = (unit: PlanUnit, text: string, standalone = false) =>
    out.push({ revision: unit.revision, direction: unit.direction, step: -1, sql: text, standalone });
  for (const unit of plan.units) {
    if (unit.kind === 'record') {
      control(unit, `-- record ${unit.revision} as applied without running it (${unit.reason})`, true);
      continue;
    }
    const steps = unitSteps(graph, unit);
    const inTransaction = unit.kind === 'migration' || steps[0]!.step.mode === 'transactional';
    if (inTransaction) {
      control(unit, 'BEGIN');
      if (steps.some(({ step }) => step.lock === 'strong')) control(unit, lockTimeoutStatement(options.lockTimeoutMs));
    }
    for (const { index, step } of steps) {
      out.push({
        revision: unit.revision,
        direction: unit.direction,
        step: index,
        sql: step.sql,
        standalone: !inTransaction,
        ...(step.when ? { condition: `extension ${step.when.extensionAvailable} is available` } : {}),
      });
    }
    if (unit.kind === 'migration' || unit.last) {
      control(unit, `-- ${unit.direction === 'up' ? 'record' : 'remove'} ${unit.revision} in the ledger`, !inTransaction);
    }
    if (inTransaction) control(unit, 'COMMIT');
  }
  return out;
}

/** The preview as an SQL script, Alembic `--sql` style. */
export function renderPreview(graph: MigrationGraph, plan: Plan, options: PreviewOptions): string {
  const lines: string[] = [];
  let current = '';
  for (const s of previewStatements(graph, plan, options)) {
    const key = `${s.revision}:${s.direction}`;
    if (key !== current) {
      current = key;
      const m = graph.get(s.revision);
      lines.push('', `-- ${s.direction === 'up' ? 'Running upgrade' : 'Running downgrade'} ${m.revision} (${m.file}): ${m.description}`);
    }
    if (s.sql.startsWith('--')) {
      lines.push(s.sql);
      continue;
    }
    if (s.step >= 0 && s.standalone) lines.push('-- outside a transaction (autocommit):');
    if (s.condition) lines.push(`-- only if ${s.condition}; skipped otherwise:`);
    lines.push(`${s.sql};`);
  }
  return `${lines.join('\n').trimStart()}\n`;
}

export function lockTimeoutStatement(ms: number): string {
  return `SET LOCAL lock_timeout = '${Math.max(1, Math.round(ms))}ms'`;
}

/**
 * A declared table as [schema, table]: 'table' (schema public) or 'schema.table', read with
 * PostgreSQL's identifier rules (unquoted parts fold to lower case; "Quoted" parts keep case and dots).
 */
export function parseTableName(name: string): [string, string] {
  let parts: string[];
  try {
    parts = parseQualifiedName(name);
  } catch (error) {
    throw new ValidationError(`declared table ${(error as Error).message}`, { cause: error });
  }
  if (parts.length > 2) throw new ValidationError(`declared table ${JSON.stringify(name)} has ${parts.length} parts: write table or schema.table`);
  return parts.length === 1 ? ['public', parts[0]!] : [parts[0]!, parts[1]!];
}

/** Tables a step changes: index steps know theirs; SQL steps declare theirs (an override) or have them parsed. */
export function stepTables(step: Step): Array<[string, string]> {
  switch (step.kind) {
    case 'create_index':
      return [[step.index.schema, step.index.table]];
    case 'drop_index':
      return step.index.table ? [[step.index.schema, step.index.table]] : [];
    case 'sql':
      return step.tables?.length ? step.tables.map(parseTableName) : (step.parsedTables ?? []);
  }
}

/** Tables a migration's direction touches, deduplicated. */
export function migrationTables(m: LoadedMigration, direction: Direction): Array<[string, string]> {
  const seen = new Map<string, [string, string]>();
  for (const step of direction === 'up' ? m.up : m.down) {
    for (const t of stepTables(step)) seen.set(`${t[0]}.${t[1]}`, t);
  }
  return [...seen.values()];
}

import { basename } from 'node:path';
import type { Node } from 'libpg-query';
import { parseStatements, type ParsedStatement } from '../db/statements.ts';
import { migrationFileNameProblem } from '../migrations/file-name.ts';
import { emptyMigrationProblem } from '../migrations/planner.ts';
import type { Migration, Step } from '../migrations/model.ts';
import type { LintConfig } from './config.ts';
import { readDirectives } from './directives.ts';
import { applyDisables, type Disable } from './disables.ts';
import { unrelatedTables } from './feature.ts';
import type { RuleId } from './rules.ts';
import { lineAt } from './source-text.ts';
import { toViolation } from './to-violation.ts';
import { checkUnit, copyKnowledge, type LintStatement, type SchemaKnowledge, type UnitResult } from './unit.ts';
import type { Finding, Violation } from './violation.ts';

/** What the loader found in one migration file. */
export interface MigrationModule {
  file: string;
  /** The file's source text, to check naming and to locate statements. */
  source: string;
  /** The default export, when the module loaded. */
  migration?: Migration;
  /** Why the module did not load (defineMigration's ValidationError, a syntax error, no default export). */
  loadError?: Error;
  /** Named exports that are migrations too (a second migration in the same file). */
  extraMigrationExports: string[];
}

/** defineMigration refuses some policy breaks itself; report those under the rule they break. */
const LOAD_ERROR_RULES: Array<[RegExp, RuleId]> = [
  [/needs a rollbackPlan/, 'rollback/plan-required'],
  [/no automatic inverse/, 'rollback/down-required'],
  [/irreversible migration must give a reason/, 'rollback/irreversible-reason'],
];

interface StepOrigin {
  direction: 'up' | 'down';
  step: number;
  line: number | undefined;
}

/**
 * Lints one migration module. `knowledge` is what its ancestors in the migration graph taught
 * (validated NOT NULL checks, NOT VALID constraints); the up direction adds to it, for the
 * migration's descendants.
 */
export async function lintMigrationModule(mod: MigrationModule, config: LintConfig, knowledge: SchemaKnowledge): Promise<Violation[]> {
  const { file, source, migration } = mod;
  const violations: Violation[] = [];
  const add = (finding: Finding, where: Partial<Violation> = {}) => {
    if (config.severities.has(finding.rule)) violations.push(toViolation(finding, config, { file, ...where }));
  };

  const name = basename(file);
  const fileNameProblem = migrationFileNameProblem(name);
  if (fileNameProblem) {
    add({ rule: 'naming/file-name', message: `${name}: ${fileNameProblem}`, hint: 'rename it YYYYMMDDHHMM_short_name.ts (`offpeak new short_name` does), e.g. 202508251200_add_user_indexes.ts' }, { line: 1 });
  }
  // Comments may show defineMigration({...}) as an example: count calls in code only.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const defineCalls = code.match(/\bdefineMigration\s*\(/g)?.length ?? 0;
  if (defineCalls > 1 || mod.extraMigrationExports.length > 0) {
    add(
      {
        rule: 'naming/one-migration-per-file',
        message: `${name} defines ${Math.max(defineCalls, 1 + mod.extraMigrationExports.length)} migrations${mod.extraMigrationExports.length ? ` (also exports ${mod.extraMigrationExports.join(', ')})` : ''}`,
        hint: 'move each migration to its own YYYYMMDDHHMM_short_name.ts file with one default export',
      },
      { line: 1 },
    );
  }

  if (!migration) {
    const message = mod.loadError?.message ?? 'the module has no default export';
    const rule = LOAD_ERROR_RULES.find(([re]) => re.test(message))?.[1] ?? 'module/invalid';
    add({ rule, message, hint: rule === 'module/invalid' ? 'fix what the message names, so that the module loads and default-exports defineMigration({...})' : ruleHint(rule) }, { line: 1 });
    return violations;
  }
  const revision = migration.revision;
  const at = { revision, line: 1 };
  // The planner refuses an empty non-merge migration at check and upgrade; say so here first (a fresh scaffold is one).
  const empty = emptyMigrationProblem(migration);
  if (empty) add({ rule: 'module/invalid', message: `${name}: ${empty}`, hint: 'write its up steps; a migration that only joins heads is written by `offpeak merge`' }, at);

  // ---- statements, per direction
  const disables: Disable[] = [];
  const units: Partial<Record<'up' | 'down', UnitResult<StepOrigin>>> = {};
  for (const direction of ['up', 'down'] as const) {
    const steps = migration[direction];
    const statements: Array<LintStatement<StepOrigin>> = [];
    let cursor = 0;
    for (const [i, step] of steps.entries()) {
      const found = locate(source, step, cursor);
      if (found !== undefined) cursor = found + 1;
      const origin: StepOrigin = { direction, step: i + 1, line: found === undefined ? undefined : lineAt(source, found) };
      const where = { revision, direction, step: i + 1, statement: step.sql, ...(origin.line ? { line: origin.line } : {}) };
      const isThisStep = (v: Violation) => v.direction === direction && v.step === i + 1;
      for (const d of step.lint?.disable ?? []) {
        disables.push({ rule: String(d.rule), reason: typeof d.reason === 'string' ? d.reason : undefined, applies: isThisStep, at: { file, revision, line: origin.line ?? 1 } });
      }
      let parsed: ParsedStatement[];
      try {
        parsed = await parseStatements(step.sql);
      } catch (error) {
        add({ rule: 'sql/parse-error', message: (error as Error).message, hint: "fix the step's SQL; it is checked with the PostgreSQL parser" }, where);
        continue;
      }
      // In a step, any directive form covers the step: it is one statement.
      for (const d of await readDirectives(step.sql)) {
        for (const rule of d.rules) disables.push({ rule, reason: d.reason, applies: isThisStep, at: { file, revision, line: origin.line ?? 1 } });
      }
      if (parsed.length !== 1) {
        add(
          {
            rule: 'step/one-statement',
            message: `${direction} step ${i + 1} has ${parsed.length} statements`,
            hint: parsed.length === 0 ? 'remove the empty step' : 'split it into one step per statement: the Data API runs one statement per call',
          },
          where,
        );
      }
      const transactional = step.mode === 'transactional';
      // A migration whose steps are all transactional runs them in ONE transaction; otherwise each step is its own unit.
      const txId = !transactional ? undefined : migration.transactional[direction] ? 0 : i + 1;
      for (const p of parsed) {
        statements.push({
          text: p.text,
          node: p.node as Node,
          inTransaction: transactional,
          ...(txId !== undefined ? { txId } : {}),
          // The runner sets lock_timeout inside a transaction only: a standalone step autocommits with the role's.
          runnerGuarded: step.lock === 'strong' && transactional,
          declaredLock: step.lock,
          ...(step.kind !== 'sql' && step.index.table ? { indexTable: { index: step.index.name, table: `${step.index.schema}.${step.index.table}` } } : {}),
          origin,
        });
      }
    }
    // Only the up direction teaches descendants about the schema; down sees what up left.
    const unit = checkUnit(statements, { config, knowledge: direction === 'up' ? knowledge : copyKnowledge(knowledge), script: false, direction });
    units[direction] = unit;
    for (const { finding, origin } of unit.findings) {
      const step = steps[origin.step - 1]!;
      add(finding, { revision, direction, step: origin.step, statement: step.sql, ...(origin.line ? { line: origin.line } : {}) });
    }
  }

  // ---- risk and rollback: destructive or client-breaking DDL makes a migration at least medium risk
  const raisers = units.up?.riskRaisers ?? [];
  const raised = raisers.length > 0 && migration.risk === 'low';
  const why = raisers.map((r) => `up step ${r.origin.step}: ${r.rule}`).filter((x, i, xs) => xs.indexOf(x) === i).join(', ');
  if (raised) {
    add(
      {
        rule: 'risk/understated',
        message: `declared risk: 'low', but the migration does destructive or client-breaking DDL (${why}): its effective risk is medium`,
        hint: "declare risk: 'medium' with a rollbackPlan (what an operator does to undo it, e.g. restore the pre-deployment snapshot), or lint.disable risk/understated with the reason it is low",
      },
      lineOf(source, /\brisk\s*:/, at),
    );
  }
  if ((migration.risk !== 'low' || raised) && !migration.rollbackPlan?.trim()) {
    add(
      {
        rule: 'rollback/plan-required',
        message: raised ? `the migration is effectively medium-risk (${why}) and has no rollbackPlan` : `a ${migration.risk}-risk migration has no rollbackPlan`,
        hint: ruleHint('rollback/plan-required'),
      },
      lineOf(source, /\brisk\s*:/, at),
    );
  }
  if (migration.irreversible !== undefined && !migration.irreversible.trim()) {
    add({ rule: 'rollback/irreversible-reason', message: 'marked irreversible without a reason', hint: ruleHint('rollback/irreversible-reason') }, lineOf(source, /irreversible\s*:/, at));
  }
  if (migration.down.length === 0 && migration.irreversible === undefined && migration.up.length > 0) {
    add({ rule: 'rollback/down-required', message: 'down is empty and the migration is not marked irreversible', hint: ruleHint('rollback/down-required') }, lineOf(source, /\bdown\s*:/, at));
  } else if (migration.irreversible !== undefined && migration.risk !== 'low') {
    add(
      { rule: 'rollback/down-required', message: `a ${migration.risk}-risk migration is irreversible: it needs down steps`, hint: 'write down steps that undo it (and say in rollbackPlan what data they cannot restore)' },
      lineOf(source, /irreversible\s*:/, at),
    );
  }

  // ---- one feature (a root baseline and a squash bundle many features by design)
  if (units.up && migration.downRevisions.length > 0 && migration.replaces.length === 0) {
    const feature = unrelatedTables(units.up.touched, units.up.links, config);
    if (feature) add(feature, lineOf(source, /\bup\s*:/, at));
  }

  for (const d of migration.lint?.disable ?? []) {
    disables.push({
      rule: String(d.rule),
      reason: typeof d.reason === 'string' ? d.reason : undefined,
      at: { file, revision, line: lineOf(source, new RegExp(`['"\`]${escapeRegExp(String(d.rule))}['"\`]`), at).line },
    });
  }
  return applyDisables(violations, disables, (rule) => config.severities.has(rule as never));
}

function ruleHint(rule: RuleId): string {
  switch (rule) {
    case 'rollback/plan-required':
      return "add rollbackPlan: what an operator does to undo it, e.g. '`offpeak downgrade <previous revision>` drops …; data written since is kept', or 'restore the pre-deployment snapshot'";
    case 'rollback/down-required':
      return 'write down steps (or use builders, whose inverse is derived), or down: { irreversible: "why" } for a low-risk migration';
    case 'rollback/irreversible-reason':
      return 'write down: { irreversible: "why it cannot be undone" }';
    default:
      return '';
  }
}

/**
 * Where a step is written in the module: its SQL's first line for raw steps, the index name for
 * builder steps (derived down steps point at the up step they invert). Searches from `from` first,
 * so repeated text maps to successive steps.
 */
function locate(source: string, step: Step, from: number): number | undefined {
  const needles: string[] = [];
  if (step.kind === 'create_index' || step.kind === 'drop_index') needles.push(`'${step.index.name}'`, `"${step.index.name}"`, step.index.name);
  const first = step.sql.split('\n')[0]!.trim();
  needles.push(`'${first}`, `"${first}`, `\`${first}`);
  if (first.length >= 8) needles.push(first);
  for (const needle of needles) {
    const ahead = source.indexOf(needle, from);
    if (ahead >= 0) return ahead;
  }
  for (const needle of needles) {
    const anywhere = source.indexOf(needle);
    if (anywhere >= 0) return anywhere;
  }
  return undefined;
}

function lineOf(source: string, pattern: RegExp, fallback: { revision: string; line: number }): { revision: string; line: number } {
  const m = pattern.exec(source);
  return m ? { revision: fallback.revision, line: lineAt(source, m.index) } : fallback;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

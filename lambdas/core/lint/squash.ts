import { ValidationError } from '../errors.ts';
import type { MigrationGraph } from '../migrations/graph.ts';
import { defineMigration, type LintOverride, type LoadedMigration, type MigrationInput, type Risk, type Step } from '../migrations/model.ts';
import { resolveLintConfig } from './config.ts';
import { lintMigrationModule } from './migration-module.ts';
import { emptyKnowledge } from './unit.ts';

/**
 * `offpeak squash --to REV`: one migration that `replaces` every migration from base to REV.
 * - up: the originals' up steps, in graph order, verbatim (SQL, mode, lock, conditions, index specs);
 * - down: the originals' down steps, newest migration first (each already in its own run order);
 *   irreversible when any original is;
 * - risk: the highest; rollbackPlan: the originals' plans, each under its revision;
 * - lint.disable: the originals' overrides that the squash still needs, each reason prefixed with its revision.
 * The engine gives `replaces` its meaning (graph.ts, planner.ts): a fresh database runs the squash
 * instead of the originals; one where some or all originals ran gets the missing ones, then a
 * record of the squash; afterwards the original files may be deleted.
 */
export interface SquashInput {
  graph: MigrationGraph;
  /** Revision (or unique prefix) the squash ends at. */
  to: string;
  /** The squash's own revision id. */
  revision: string;
  name: string;
  /** Import specifier of model.ts from the migrations directory. */
  modelImport: string;
}

export interface Squash {
  revision: string;
  replaces: string[];
  risk: Risk;
  irreversible: boolean;
  source: string;
}

const RISK_ORDER: Risk[] = ['low', 'medium', 'high'];

/** The migrations from base to `to`, in order; refuses ranges a squash cannot stand for. */
export function squashRange(graph: MigrationGraph, to: string): LoadedMigration[] {
  const target = graph.resolveRevision(to);
  const inRange = graph.ancestors([target]);
  const range = graph.order.filter((r) => inRange.has(r)).map((r) => graph.get(r));
  const nested = range.find((m) => m.replaces.length > 0);
  if (nested) {
    throw new ValidationError(
      `${nested.file} (${nested.revision}) is already a squash: squash --to a revision before it, or fold its originals into a new squash by hand`,
      { context: { revision: nested.revision } },
    );
  }
  for (const rev of graph.order) {
    if (inRange.has(rev)) continue;
    const inside = (graph.parents.get(rev) ?? []).filter((p) => inRange.has(p) && p !== target);
    if (inside.length > 0) {
      const m = graph.get(rev);
      throw new ValidationError(
        `${m.file} (${rev}) branches off ${inside.join(', ')}, inside the range base → ${target}: after a squash it would have to come after ${target}; squash --to ${inside[0]} or merge the branch first`,
        { context: { revision: rev } },
      );
    }
  }
  if (range.length < 2) throw new ValidationError(`base → ${target} is ${range.length} migration: nothing to squash`);
  return range;
}

export async function buildSquash({ graph, to, revision, name, modelImport }: SquashInput): Promise<Squash> {
  if (graph.all.has(revision) || graph.replacedBy.has(revision)) throw new ValidationError(`revision ${revision} already exists`);
  const range = squashRange(graph, to);
  const target = range.at(-1)!;
  const risk = range.map((m) => m.risk).reduce((a, b) => (RISK_ORDER.indexOf(b) > RISK_ORDER.indexOf(a) ? b : a), 'low' as Risk);
  const plans = range.filter((m) => m.rollbackPlan?.trim()).map((m) => `${m.revision}: ${m.rollbackPlan!.trim()}`);
  const irreversible = range.filter((m) => m.irreversible !== undefined);
  const how = irreversible.length
    ? `not reversible as a whole (${irreversible.map((m) => m.revision).join(', ')} cannot be undone): restore the pre-deployment snapshot`
    : "`offpeak downgrade base` runs the down steps below (the originals' downs, newest first)";
  const rollbackPlan = [how, ...plans].join('\n');
  const upSteps = range.flatMap((m) => m.up);
  const downSteps = [...range].reverse().flatMap((m) => m.down);
  // Carry an original's override only where the squash still breaks that rule: in one migration a
  // table created earlier is new, so e.g. a rename the original had to excuse may now be fine.
  const fired = await rulesBroken({
    revision,
    downRevision: null,
    description: name,
    risk,
    rollbackPlan: 'squash',
    up: upSteps,
    down: irreversible.length ? { irreversible: 'squash' } : downSteps,
    mixedLocking: { reason: 'squash' },
    replaces: range.map((m) => m.revision),
  });
  const disables: LintOverride[] = range.flatMap((m) =>
    m.lint.disable.filter((d) => fired.has(d.rule)).map((d) => ({ rule: d.rule, reason: `${m.revision}: ${d.reason}` })),
  );
  const up = range.flatMap((m) => [comment(`${m.revision} ${m.description}`), ...m.up.map(literalStep)]);
  const down = [...range].reverse().flatMap((m) => [comment(`${m.revision} ${m.description}`), ...m.down.map(literalStep)]);
  const mixed = upSteps.some((s) => s.lock === 'strong') && upSteps.some((s) => s.lock === 'concurrent');
  const mixedDown = downSteps.some((s) => s.lock === 'strong') && downSteps.some((s) => s.lock === 'concurrent');

  const lines = [
    `// Generated by \`offpeak squash --to ${target.revision}\`: replaces ${range.length} migrations (base → ${target.revision}).`,
    '// A fresh database runs this instead of them; a database that applied some or all of them runs the',
    '// missing ones, then records this as applied. Once every database has it, the originals may be deleted.',
    `import { defineMigration, type Step } from '${modelImport}';`,
    '',
    'const up: Step[] = [',
    ...up,
    '];',
    '',
  ];
  if (irreversible.length === 0) lines.push('const down: Step[] = [', ...down, '];', '');
  lines.push(
    'export default defineMigration({',
    `  revision: ${str(revision)},`,
    '  downRevision: null,',
    `  description: ${str(`squash ${name.replaceAll('_', ' ')}: ${range.map((m) => m.revision).join(', ')}`)},`,
    `  risk: ${str(risk)},`,
    `  rollbackPlan: ${str(rollbackPlan)},`,
    '  up,',
    irreversible.length === 0
      ? '  down,'
      : `  down: { irreversible: ${str(irreversible.map((m) => `${m.revision}: ${m.irreversible}`).join('; '))} },`,
  );
  if (mixed || mixedDown) {
    const reasons = range.filter((m) => m.mixedLocking).map((m) => `${m.revision}: ${m.mixedLocking!.reason}`);
    lines.push(
      `  mixedLocking: { reason: ${str(['squash: the steps keep their original order, migration by migration; on a fresh database the strong locks are on tables it has just created', ...reasons].join('; '))} },`,
    );
  }
  lines.push(`  replaces: [${range.map((m) => str(m.revision)).join(', ')}],`);
  if (disables.length > 0) lines.push(`  lint: { disable: [${disables.map((d) => `{ rule: ${str(d.rule)}, reason: ${str(d.reason)} }`).join(', ')}] },`);
  lines.push('});', '');
  return { revision, replaces: range.map((m) => m.revision), risk, irreversible: irreversible.length > 0, source: lines.join('\n') };
}

/** The rules the squash breaks, linted in memory with the default config. */
async function rulesBroken(input: MigrationInput): Promise<Set<string>> {
  const migration = defineMigration(input);
  const violations = await lintMigrationModule(
    { file: `${input.revision}_squash.ts`, source: '', migration, extraMigrationExports: [] },
    resolveLintConfig({}),
    emptyKnowledge(),
  );
  return new Set(violations.map((v) => v.rule));
}

const comment = (text: string) => `  // ---- ${text.replace(/\s+/g, ' ')}`;

/** A step as a TS object literal: exact data, multi-line SQL kept readable as a template literal. */
function literalStep(step: Step): string {
  return `  ${literal(step, '  ')},`;
}

function literal(value: unknown, indent: string): string {
  if (typeof value === 'string') return value.includes('\n') && !/[`\\]|\$\{/.test(value) ? `\`${value}\`` : str(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => literal(v, indent)).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    const inner = `${indent}  `;
    return `{\n${entries.map(([k, v]) => `${inner}${/^[A-Za-z_$][\w$]*$/.test(k) ? k : str(k)}: ${literal(v, inner)},`).join('\n')}\n${indent}}`;
  }
  throw new ValidationError(`cannot write ${typeof value} into a squash file`);
}

/** A single-quoted TS string. */
function str(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n')}'`;
}

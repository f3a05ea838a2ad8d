import type { LoadedMigration, Step } from '../../lambdas/core/migrations/model.ts';

/** How a step runs, for people: inside the migration's transaction or on its own (autocommit). */
export function stepMode(step: Step): string {
  const mode = step.mode === 'standalone' ? 'outside a transaction' : 'in transaction';
  return step.when ? `${mode}, only when extension ${step.when.extensionAvailable} is available` : mode;
}

function stepJson(step: Step) {
  return { kind: step.kind, description: step.description, mode: step.mode, lock: step.lock, when: step.when ?? null, sql: step.sql };
}

export function migrationJson(m: LoadedMigration, options: { head: boolean; steps: boolean }) {
  return {
    revision: m.revision,
    downRevisions: m.downRevisions,
    file: m.file,
    description: m.description,
    risk: m.risk,
    rollbackPlan: m.rollbackPlan ?? null,
    irreversible: m.irreversible ?? null,
    head: options.head,
    checksum: m.checksum,
    stepCount: { up: m.up.length, down: m.down.length },
    expect: m.expect,
    ...(options.steps ? { up: m.up.map(stepJson), down: m.down.map(stepJson) } : {}),
  };
}

/** Alembic's `history --verbose` block, plus offpeak's risk and step details. */
export function describeMigration(m: LoadedMigration, options: { head: boolean; steps: boolean }): string[] {
  const lines = [
    `Rev: ${m.revision}${options.head ? ' (head)' : ''}`,
    `Parent: ${m.downRevisions.length ? m.downRevisions.join(', ') : '<base>'}`,
    `Path: ${m.file}`,
    `Risk: ${m.risk}`,
    `Description: ${m.description}`,
  ];
  if (m.rollbackPlan) lines.push(`Rollback plan: ${m.rollbackPlan}`);
  if (m.irreversible) lines.push(`Irreversible: ${m.irreversible}`);
  if (m.replaces.length) lines.push(`Replaces: ${m.replaces.join(', ')}`);
  lines.push(`Checksum: ${m.checksum}`);
  const conditional = m.up.filter((s) => s.when).length;
  lines.push(
    `Steps: ${m.up.length} up (${m.transactional.up ? 'one transaction' : `${m.up.filter((s) => s.mode === 'standalone').length} outside a transaction`}${conditional ? `, ${conditional} conditional` : ''}), ${m.irreversible ? 'irreversible' : `${m.down.length} down`}`,
  );
  for (const e of m.expect) {
    lines.push(`Expects: ${JSON.stringify(e.name)} uses ${e.usesIndex}${e.measure ? ' (measured)' : ''}: ${e.sql.length > 200 ? `${e.sql.slice(0, 200)}…` : e.sql}`);
  }
  if (options.steps) {
    for (const [direction, steps] of [['up', m.up], ['down', m.down]] as const) {
      if (steps.length === 0) continue;
      lines.push('', `${direction}:`);
      steps.forEach((s, i) => {
        lines.push(`  ${i + 1}. ${s.description} [${stepMode(s)}]`);
        for (const l of s.sql.split('\n')) lines.push(`       ${l.trim()}`);
      });
    }
  }
  return lines;
}

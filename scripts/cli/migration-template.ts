import type { Risk } from '../../lambdas/core/migrations/model.ts';

/**
 * The text of a new migration file. `up` starts empty on purpose: `check` and `upgrade` refuse the file until it
 * says what it does. A merge (several down revisions) may stay empty: it only joins the heads.
 */
export function renderMigrationTemplate(input: { revision: string; downRevisions: readonly string[]; description: string; risk: Risk }): string {
  const quoted = input.downRevisions.map((r) => `'${r}'`);
  const down = quoted.length === 0 ? 'null' : quoted.length === 1 ? quoted[0]! : `[${quoted.join(', ')}]`;
  const description = JSON.stringify(input.description).slice(1, -1).replaceAll("'", "\\'");
  const merge = input.downRevisions.length > 1;
  const rollback =
    input.risk === 'low' ? '' : `  rollbackPlan: 'offpeak downgrade ${input.downRevisions.length === 1 ? input.downRevisions[0] : 'base'}',\n`;
  if (merge) {
    return `import { defineMigration } from 'offpeak';

// A merge: it joins the heads ${input.downRevisions.join(', ')} and runs nothing. Add steps only if the branches need reconciling.
export default defineMigration({
  revision: '${input.revision}',
  downRevision: ${down},
  description: '${description}',
  risk: '${input.risk}',
${rollback}  up: [],
});
`;
  }
  return `// Add createIndex / dropIndex / sqlStep to this import as you use them.
import { defineMigration } from 'offpeak';

export default defineMigration({
  revision: '${input.revision}',
  downRevision: ${down},
  description: '${description}',
  risk: '${input.risk}',
${rollback}  up: [
    // One statement per step. Index builds: createIndex (CONCURRENTLY IF NOT EXISTS, inverse derived), e.g.
    // createIndex({ name: 'idx_table_column', table: 'table', columns: ['column'] }),
    // Other DDL: sqlStep('ALTER TABLE …', { mode: 'transactional', lock: 'strong', tables: ['table'] }),
  ],
  // down is derived from createIndex/dropIndex steps; write it for sqlStep steps, or { irreversible: 'why' }.
});
`;
}

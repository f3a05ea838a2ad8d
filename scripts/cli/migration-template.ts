import type { Risk } from '../../lambdas/core/migrations/model.ts';

/** The text of a new migration file. `up` starts empty on purpose: `check` refuses the file until it says what it does. */
export function renderMigrationTemplate(input: { revision: string; downRevision: string | undefined; name: string; risk: Risk; modelImport: string }): string {
  const down = input.downRevision === undefined ? 'null' : `'${input.downRevision}'`;
  const rollback =
    input.risk === 'low'
      ? ''
      : `  rollbackPlan: '${input.downRevision === undefined ? 'offpeak downgrade base' : `offpeak downgrade ${input.downRevision}`}',\n`;
  return `// Add createIndex / dropIndex / sqlStep to this import as you use them.
import { defineMigration } from '${input.modelImport}';

export default defineMigration({
  revision: '${input.revision}',
  downRevision: ${down},
  description: '${input.name.replaceAll('_', ' ')}',
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

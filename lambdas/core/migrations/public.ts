/**
 * offpeak's public entry point, what `import … from 'offpeak'` gives a migration file (package.json "exports";
 * inside this repository, Node's package self-reference):
 *
 *   import { defineMigration, createIndex, sqlStep } from 'offpeak';
 */
export { createIndex, defineMigration, dropIndex, sqlStep } from './model.ts';
export type { IndexSpec, LintOverride, LockLevel, Migration, MigrationInput, Risk, Step, StepCondition, StepMode } from './model.ts';

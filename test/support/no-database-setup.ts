import { refuseDatabases } from './no-database-guard.ts';

// The setup file of the `no-database` project (vitest.config.ts): see no-database-guard.ts.
refuseDatabases();

import { createTestDatabase, testDatabaseUrl } from '../../support/database.ts';
import { defineSqlClientContract } from './contract.ts';

defineSqlClientContract({
  dialect: 'pg',
  skip: testDatabaseUrl ? undefined : 'set TEST_DATABASE_URL to run it on PostgreSQL',
  async open() {
    const db = await createTestDatabase();
    return { client: db.client, hasVector: db.hasVector, dispose: () => db.dispose() };
  },
});

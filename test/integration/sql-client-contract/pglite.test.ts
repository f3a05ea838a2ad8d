import { createPgliteClient, openPglite } from '../../../lambdas/core/db/pglite.ts';
import { defineSqlClientContract } from './contract.ts';

defineSqlClientContract({
  dialect: 'pglite',
  async open() {
    const client = createPgliteClient(await openPglite({ dataDir: 'memory://' }));
    return { client, hasVector: true, dispose: () => client.close() };
  },
});

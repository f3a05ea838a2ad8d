/**
 * Round-trip overhead of the Data API path: 1,000 small queries through offpeak's
 * Data API adapter, the real SDK client and the local Data API server, against the
 * same 1,000 through node-postgres directly, on the same PostgreSQL, in one run.
 * The two are interleaved in blocks so machine load hits both alike. Target: ≤ 3×.
 *
 * Run: npx tsx bench/data-api-overhead.ts [queries]
 * Database: TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 */
import { loadavg } from 'node:os';
import type { SqlClient } from '../lambdas/core/db/client.ts';
import { createDataApiClient, createRdsDataSdkClient } from '../lambdas/core/db/data-api.ts';
import { createPgClient } from '../lambdas/core/db/pg.ts';
import { sql } from '../lambdas/core/db/sql.ts';
import { startDataApiServer } from '../scripts/data-api/server.ts';
import { line, memory, ms } from './_report.ts';

const queries = Number(process.argv[2] ?? 1_000);
const block = 100;
const url = process.env['TEST_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';

async function timeBlock(client: SqlClient, from: number, count: number): Promise<number> {
  const started = performance.now();
  for (let i = from; i < from + count; i++) {
    const { rows } = await client.query<{ n: number }>(sql`SELECT ${i}::int4 AS n, ${'x'}::text AS t`);
    if (rows[0]?.n !== i) throw new Error(`wrong answer for query ${i}`);
  }
  return performance.now() - started;
}

// One pooled connection for pg: the server also reuses pooled connections, so both pay no connect per query.
const pg = createPgClient({ connectionString: url, max: 1 });
const server = await startDataApiServer({ databaseUrl: url });
const sdk = createRdsDataSdkClient({ endpoint: server.endpoint });
const dataApi = createDataApiClient({
  client: sdk,
  resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:bench',
  secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench',
  database: new URL(url).pathname.slice(1) || 'postgres',
  ownsClient: true,
});

try {
  // Warm up both paths (connections, JIT, SDK middleware stack).
  await timeBlock(pg, 0, 50);
  await timeBlock(dataApi, 0, 50);

  let pgMs = 0;
  let apiMs = 0;
  for (let done = 0; done < queries; done += block) {
    const count = Math.min(block, queries - done);
    pgMs += await timeBlock(pg, done, count);
    apiMs += await timeBlock(dataApi, done, count);
  }

  const ratio = apiMs / pgMs;
  process.stdout.write(`Data API adapter + local server vs direct pg, ${queries} sequential queries (load average ${loadavg()[0]!.toFixed(1)})\n`);
  line('direct pg', `${ms(pgMs)}  (${((pgMs / queries) * 1000).toFixed(0)} µs/query)`);
  line('Data API adapter + SDK + local server', `${ms(apiMs)}  (${((apiMs / queries) * 1000).toFixed(0)} µs/query)`);
  line('ratio (target ≤ 3×)', `${ratio.toFixed(2)}×  ${ratio <= 3 ? 'within target' : 'OVER TARGET'}`);
  memory();
} finally {
  await dataApi.close();
  await server.close();
  await pg.close();
}

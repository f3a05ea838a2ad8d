/**
 * Round-trip overhead of the Data API path: 1,000 small queries through offpeak's
 * Data API adapter, the real SDK client and the local Data API server, against the
 * same 1,000 through node-postgres directly, on the same PostgreSQL, in one run.
 * The two are interleaved in blocks so machine load hits both alike. Target: ≤ 3×.
 * The server runs twice: as its own process (`offpeak data-api serve`, as the service
 * is remote: the headline ratio) and inside this process (client and server share one thread).
 * Also timed: the same SDK calls against a bare HTTP server that answers at once, the
 * floor any HTTP Data API path pays on this machine, so the rest is the server's own work.
 *
 * Run: npx tsx bench/data-api-overhead.ts [queries]
 * Database: TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
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

const serveProcess = spawn(process.execPath, ['bin/offpeak.js', 'data-api', 'serve', '--port', '0', '--database-url', url], {
  cwd: new URL('..', import.meta.url),
  stdio: ['ignore', 'pipe', 'inherit'],
});
const remoteEndpoint = await new Promise<string>((resolve, reject) => {
  serveProcess.once('exit', (code) => reject(new Error(`offpeak data-api serve exited with ${code}`)));
  createInterface({ input: serveProcess.stdout! }).on('line', (text) => {
    const found = /listening on (http:\/\/\S+)/.exec(text);
    if (found) resolve(found[1]!);
  });
});

function adapter(endpoint: string) {
  return createDataApiClient({
    client: createRdsDataSdkClient({ endpoint }),
    resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:bench',
    secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench',
    database: new URL(url).pathname.slice(1) || 'postgres',
    ownsClient: true,
  });
}
const dataApi = adapter(server.endpoint);
const remoteApi = adapter(remoteEndpoint);

// The floor: an HTTP server that answers every call with one fixed row, no database behind it.
let floorN = 0;
const floorServer = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const body = JSON.stringify({ records: [[{ longValue: floorN++ }, { stringValue: 'x' }]], columnMetadata: [{ label: 'n', typeName: 'int4' }, { label: 't', typeName: 'text' }] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
});
await new Promise<void>((resolve) => floorServer.listen(0, '127.0.0.1', resolve));
const floorSdk = createRdsDataSdkClient({ endpoint: `http://127.0.0.1:${(floorServer.address() as AddressInfo).port}` });
const floor = createDataApiClient({ client: floorSdk, resourceArn: 'a', secretArn: 's', database: 'd', ownsClient: true });

async function timeFloor(count: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) await floor.query(sql`SELECT ${i}::int4 AS n`);
  return performance.now() - started;
}

try {
  // Warm up both paths (connections, JIT, SDK middleware stack).
  await timeBlock(pg, 0, 50);
  await timeBlock(dataApi, 0, 50);
  await timeBlock(remoteApi, 0, 50);
  await timeFloor(50);

  let pgMs = 0;
  let apiMs = 0;
  let floorMs = 0;
  let remoteMs = 0;
  for (let done = 0; done < queries; done += block) {
    const count = Math.min(block, queries - done);
    pgMs += await timeBlock(pg, done, count);
    apiMs += await timeBlock(dataApi, done, count);
    remoteMs += await timeBlock(remoteApi, done, count);
    floorMs += await timeFloor(count);
  }

  const ratio = remoteMs / pgMs;
  const perQuery = (total: number) => `${ms(total)}  (${((total / queries) * 1000).toFixed(0)} µs/query, ${(total / pgMs).toFixed(2)}× pg)`;
  process.stdout.write(`Data API adapter + local server vs direct pg, ${queries} sequential queries (load average ${loadavg()[0]!.toFixed(1)})\n`);
  line('direct pg', perQuery(pgMs));
  line('Data API: adapter + SDK + server process', perQuery(remoteMs));
  line('Data API: adapter + SDK + in-process server', perQuery(apiMs));
  line('floor: adapter + SDK + bare HTTP, no database', perQuery(floorMs));
  line('ratio, server process vs pg (target ≤ 3×)', `${ratio.toFixed(2)}×  ${ratio <= 3 ? 'within target' : 'OVER TARGET'}`);
  memory();
} finally {
  await dataApi.close();
  await remoteApi.close();
  serveProcess.kill('SIGTERM');
  await floor.close();
  floorServer.close();
  await server.close();
  await pg.close();
}

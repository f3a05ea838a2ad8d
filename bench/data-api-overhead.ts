/**
 * Round-trip overhead of the Data API path: 1,000 small queries through offpeak's
 * Data API adapter, the real SDK client and the local Data API server, against the
 * same 1,000 through node-postgres directly, on the same PostgreSQL, in one run.
 * The paths are interleaved in blocks of 20 queries so machine load hits all alike; a round
 * is `queries` queries on every path. Each round is printed (so noise shows); the headline
 * is the median over all blocks of the ratio between neighbouring blocks, which a burst of
 * load on a shared machine moves far less than a ratio of sums. Target: ≤ 3×.
 * CPU time per query is printed too (this process, plus the server process's own from
 * /proc on Linux; PostgreSQL's backends are not counted on either side): unlike wall
 * time it hardly moves with other processes' load, so it shows what a change saved.
 * Why the wall ratio stays high on a busy 2-core machine: a Data API call hops bench →
 * server → PostgreSQL → server → bench, direct pg only bench → PostgreSQL → bench, and
 * at a load average of 10 every wake-up waits for a core, whatever each process spends.
 * The server runs twice: as its own process (`offpeak data-api serve`, as the service
 * is remote: the headline ratio) and inside this process (client and server share one thread).
 * Also timed: the same SDK calls against a bare HTTP server that answers at once, the
 * floor any HTTP Data API path pays on this machine, and against a bare HTTP server that runs the
 * query on one raw pg connection: the floor of any HTTP path to PostgreSQL. When that floor alone is
 * over 3× direct pg, no Data API server can meet the target here: each call crosses three sockets
 * (bench → server → PostgreSQL and back) where direct pg crosses one, and on this VM a loopback
 * socket write costs tens of µs of system time.
 *
 * Run: npx tsx bench/data-api-overhead.ts [queries] [rounds]
 * Database: TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import PgRaw from 'pg';
import type { SqlClient } from '../lambdas/core/db/client.ts';
import { createDataApiClient, createRdsDataSdkClient } from '../lambdas/core/db/data-api.ts';
import { createPgClient } from '../lambdas/core/db/pg.ts';
import { sql } from '../lambdas/core/db/sql.ts';
import { startDataApiServer } from '../scripts/data-api/server.ts';
import { line, memory, ms } from './_report.ts';

const queries = Number(process.argv[2] ?? 1_000);
const rounds = Number(process.argv[3] ?? 5);
const block = 20;
const warmUp = 200;
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

/** CPU time (µs) the server process has used so far; 0 where /proc is missing (not Linux). */
function serverProcessCpuMicros(): number {
  try {
    const fields = readFileSync(`/proc/${serveProcess.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return 0;
  }
}
const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

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

// The floor with the database: an HTTP server that parses the request and runs its query on one raw
// node-postgres connection, with none of the service's checks, conversion or reset. What any HTTP path
// to PostgreSQL costs here; the in-process server's excess over it is the Data API logic itself.
const floorDbPg = new PgRaw.Client({ connectionString: url });
await floorDbPg.connect();
const floorDbServer = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { sql: string; parameters: Array<{ value: { longValue?: number; stringValue?: string } }> };
    const text = body.sql.replace(/:p(\d+)/g, '$$$1');
    void floorDbPg.query({ text, values: body.parameters.map((p) => p.value.longValue ?? p.value.stringValue), rowMode: 'array' }).then((r) => {
      const reply = JSON.stringify({
        records: (r.rows as unknown[][]).map((row) => [{ longValue: Number(row[0]) }, { stringValue: String(row[1]) }]),
        columnMetadata: [{ label: 'n', typeName: 'int4' }, { label: 't', typeName: 'text' }],
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) }).end(reply);
    });
  });
});
await new Promise<void>((resolve) => floorDbServer.listen(0, '127.0.0.1', resolve));
const floorDb = createDataApiClient({
  client: createRdsDataSdkClient({ endpoint: `http://127.0.0.1:${(floorDbServer.address() as AddressInfo).port}` }),
  resourceArn: 'a',
  secretArn: 's',
  database: 'd',
  ownsClient: true,
});

const paths = [
  'direct pg',
  'Data API: adapter + SDK + server process',
  'Data API: adapter + SDK + in-process server',
  'floor: SDK + bare HTTP + 1 pg query',
  'floor: SDK + bare HTTP, no db',
] as const;
type Path = (typeof paths)[number];
const run: Record<Path, (from: number, count: number) => Promise<number>> = {
  'direct pg': (from, count) => timeBlock(pg, from, count),
  'Data API: adapter + SDK + server process': (from, count) => timeBlock(remoteApi, from, count),
  'Data API: adapter + SDK + in-process server': (from, count) => timeBlock(dataApi, from, count),
  'floor: SDK + bare HTTP + 1 pg query': (from, count) => timeBlock(floorDb, from, count),
  'floor: SDK + bare HTTP, no db': (_from, count) => timeFloor(count),
};
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

try {
  // Warm up every path alike (connections, JIT, SDK middleware stack, the server's caches).
  for (const path of paths) await run[path](0, warmUp);

  const totals: Record<Path, number[]> = Object.fromEntries(paths.map((p) => [p, []])) as unknown as Record<Path, number[]>;
  const cpu: Record<Path, number> = Object.fromEntries(paths.map((p) => [p, 0])) as Record<Path, number>;
  const blockRatios: Record<Path, number[]> = Object.fromEntries(paths.map((p) => [p, []])) as unknown as Record<Path, number[]>;
  process.stdout.write(
    `Data API adapter + local server vs direct pg, ${queries} sequential queries per path, ${rounds} rounds (load average ${loadavg()[0]!.toFixed(1)})\n` +
      `  per round, µs/query: ${paths.join(' | ')}\n`,
  );
  for (let round = 1; round <= rounds; round++) {
    const spent: Record<Path, number> = Object.fromEntries(paths.map((p) => [p, 0])) as Record<Path, number>;
    for (let done = 0; done < queries; done += block) {
      const count = Math.min(block, queries - done);
      const took = {} as Record<Path, number>;
      for (const path of paths) {
        const cpuBefore = cpuMicros() + (path === 'Data API: adapter + SDK + server process' ? serverProcessCpuMicros() : 0);
        spent[path] += took[path] = await run[path](done, count);
        cpu[path] += cpuMicros() + (path === 'Data API: adapter + SDK + server process' ? serverProcessCpuMicros() : 0) - cpuBefore;
      }
      for (const path of paths) blockRatios[path].push(took[path] / took['direct pg']);
    }
    for (const path of paths) totals[path].push(spent[path]);
    line(
      `round ${round}`,
      paths.map((p) => `${((spent[p] / queries) * 1000).toFixed(0)}`).join(' | ') +
        `  → ${(spent['Data API: adapter + SDK + server process'] / spent['direct pg']).toFixed(2)}× (load ${loadavg()[0]!.toFixed(1)})`,
    );
  }

  process.stdout.write(`median over ${rounds} rounds; ratio = median of per-block ratios to the neighbouring pg block:\n`);
  for (const path of paths) {
    const total = median(totals[path]);
    line(path, `${ms(total)}  (${((total / queries) * 1000).toFixed(0)} µs/query, ${median(blockRatios[path]).toFixed(2)}× pg)`);
  }
  const cpuPg = cpu['direct pg'];
  process.stdout.write(`CPU per query over all rounds (bench process + server process; not PostgreSQL's):\n`);
  for (const path of paths) line(path, `${(cpu[path] / (queries * rounds)).toFixed(0)} µs  (${(cpu[path] / cpuPg).toFixed(2)}× pg)`);
  const ratio = median(blockRatios['Data API: adapter + SDK + server process']);
  line('ratio, server process vs pg (target ≤ 3×)', `${ratio.toFixed(2)}×  ${ratio <= 3 ? 'within target' : 'OVER TARGET'}`);
  const floorDbRatio = median(blockRatios['floor: SDK + bare HTTP + 1 pg query']);
  line(
    'floor with the database vs pg',
    `${floorDbRatio.toFixed(2)}×  (${floorDbRatio > 3 ? 'over 3× with no Data API logic at all: the target is out of reach for any HTTP server here' : 'leaves room under 3×'})`,
  );
  memory();
} finally {
  await dataApi.close();
  await remoteApi.close();
  serveProcess.kill('SIGTERM');
  await floor.close();
  floorServer.close();
  await floorDb.close();
  floorDbServer.close();
  await floorDbPg.end();
  await server.close();
  await pg.close();
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Backend } from './backend.ts';
import { createPgBackend } from './pg-backend.ts';
import { createPgliteBackend } from './pglite-backend.ts';
import { FaultInjector, noFaults, parseFaults, parseFaultsBody, type FaultSpec } from './faults.ts';
import { DataApiService } from './service.ts';
import { internalError, serializationError, ServiceError } from './service-error.ts';

export interface DataApiServerOptions {
  /** Serve this PostgreSQL (pooled, one dedicated connection per transaction). */
  databaseUrl?: string;
  /** Or serve this PGlite (one connection: calls are serialized). The caller keeps ownership and closes it. */
  pglite?: PGlite;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  statementTimeoutMs?: number;
  transactionIdleTimeoutMs?: number;
  maxResponseBytes?: number;
  /** Default 24 hours, the service's maximum transaction lifetime. */
  transactionMaxLifetimeMs?: number;
  /** Default 10 MB, formattedRecords' documented limit. */
  maxFormattedRecordsBytes?: number;
  /** Faults to inject (`resuming=0.05,lost=0.02,…`, see faults.ts); also settable at run time via POST /_offpeak/faults. */
  faults?: string | FaultSpec;
  /** Seed of the faults' random draws (default: random, reported by the admin endpoint and `faults`). */
  seed?: number;
  /** Clock for the faults' idle periods (tests inject one). */
  clock?: () => number;
  log?: (event: Record<string, unknown>) => void;
}

export interface DataApiServer {
  endpoint: string;
  port: number;
  /** The fault injector (set faults programmatically, read the seed). */
  faults: FaultInjector;
  close(): Promise<void>;
}

/** The service refuses requests over 4 MiB. */
const maxRequestBytes = 4 * 1024 * 1024;

const operations = {
  '/Execute': 'executeStatement',
  '/BatchExecute': 'batchExecuteStatement',
  '/BeginTransaction': 'beginTransaction',
  '/CommitTransaction': 'commitTransaction',
  '/RollbackTransaction': 'rollbackTransaction',
} as const;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxRequestBytes) {
        reject(new ServiceError('ValidationException', 413, `Request body is larger than the ${maxRequestBytes} bytes the Data API accepts`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string, errorType?: string) {
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': crypto.randomUUID(),
  };
  if (errorType) headers['x-amzn-errortype'] = errorType;
  res.writeHead(status, headers).end(body);
}

function sendError(res: ServerResponse, error: ServiceError) {
  send(res, error.status, JSON.stringify({ message: error.message, ...error.extra }), error.name);
}

/** Starts the local RDS Data API server (restJson1, the paths and shapes of @aws-sdk/client-rds-data). */
export async function startDataApiServer(options: DataApiServerOptions): Promise<DataApiServer> {
  let backend: Backend;
  if (options.databaseUrl) backend = createPgBackend(options.databaseUrl);
  else if (options.pglite) backend = createPgliteBackend(options.pglite);
  else throw new Error('startDataApiServer needs databaseUrl or pglite');

  const log = options.log ?? (() => undefined);
  const service = new DataApiService(
    backend,
    {
      statementTimeoutMs: options.statementTimeoutMs ?? 45_000,
      transactionIdleTimeoutMs: options.transactionIdleTimeoutMs ?? 180_000,
      maxResponseBytes: options.maxResponseBytes ?? 1_048_576,
      transactionMaxLifetimeMs: options.transactionMaxLifetimeMs ?? 24 * 60 * 60 * 1000,
      maxFormattedRecordsBytes: options.maxFormattedRecordsBytes ?? 10_000_000,
    },
    log,
  );
  const faultSpec = typeof options.faults === 'string' ? parseFaults(options.faults) : (options.faults ?? noFaults());
  const faults = new FaultInjector(faultSpec, options.seed ?? Math.floor(Math.random() * 2 ** 31), options.clock);

  async function parseJson(req: IncomingMessage): Promise<unknown> {
    const text = await readBody(req);
    try {
      return text.trim() === '' ? {} : JSON.parse(text);
    } catch (error) {
      throw serializationError(`The request body is not valid JSON: ${(error as Error).message}`, error);
    }
  }

  /** GET /_offpeak/faults shows the faults, POST sets them: `{"faults": "resuming=0.05,…", "seed": 7}`. */
  async function admin(req: IncomingMessage, res: ServerResponse) {
    if (req.method === 'POST') {
      const { spec, seed } = parseFaultsBody(await parseJson(req));
      faults.set(spec, seed);
      log({ event: 'faults_set', ...faults.describe() });
    } else if (req.method !== 'GET') {
      throw new ServiceError('UnknownOperationException', 405, 'Use GET or POST on /_offpeak/faults');
    }
    send(res, 200, JSON.stringify(faults.describe()));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const started = Date.now();
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/_offpeak/faults') {
      try {
        await admin(req, res);
      } catch (caught) {
        sendError(res, caught instanceof ServiceError ? caught : internalError(caught));
      }
      return;
    }
    const operation = req.method === 'POST' ? operations[path as keyof typeof operations] : undefined;
    try {
      if (!operation) {
        throw new ServiceError(
          'UnknownOperationException',
          404,
          `No operation at ${req.method} ${path}. The Data API serves POST ${Object.keys(operations).join(', ')}.`,
        );
      }
      const body = await parseJson(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw serializationError('The request body must be a JSON object');
      const fault = faults.before(body as Record<string, unknown>);
      if (fault) throw fault;
      const response = await service[operation](body as Record<string, unknown>);
      const encoded = service.encode(response);
      if (faults.loseReply()) {
        // The call ran (and committed, outside a transaction); the caller never hears of it.
        log({ event: 'data_api_request', operation, status: 0, fault: 'lost', durationMs: Date.now() - started });
        req.socket.destroy();
        return;
      }
      send(res, 200, encoded);
      log({ event: 'data_api_request', operation, status: 200, durationMs: Date.now() - started });
    } catch (caught) {
      const error = caught instanceof ServiceError ? caught : internalError(caught);
      if (!res.headersSent) sendError(res, error);
      log({
        event: 'data_api_request',
        operation: operation ?? path,
        status: error.status,
        errorType: error.name,
        durationMs: Date.now() - started,
        ...(error.status >= 500 ? { cause: String((error.cause as Error | undefined)?.message ?? error.cause) } : {}),
      });
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    endpoint: `http://${host}:${address.port}`,
    port: address.port,
    faults,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await service.close();
    },
  };
}

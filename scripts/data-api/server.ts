import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Backend } from './backend.ts';
import { createPgBackend } from './pg-backend.ts';
import { createPgliteBackend } from './pglite-backend.ts';
import { DataApiService } from './service.ts';
import { badRequest, internalError, ServiceError } from './service-error.ts';

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
  log?: (event: Record<string, unknown>) => void;
}

export interface DataApiServer {
  endpoint: string;
  port: number;
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
        reject(new ServiceError('BadRequestException', 413, `Request body is larger than the ${maxRequestBytes} bytes the Data API accepts`));
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
    },
    log,
  );

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const started = Date.now();
    const path = (req.url ?? '/').split('?')[0]!;
    const operation = req.method === 'POST' ? operations[path as keyof typeof operations] : undefined;
    try {
      if (!operation) {
        throw new ServiceError(
          'UnknownOperationException',
          404,
          `No operation at ${req.method} ${path}. The Data API serves POST ${Object.keys(operations).join(', ')}.`,
        );
      }
      const text = await readBody(req);
      let body: unknown;
      try {
        body = text.trim() === '' ? {} : JSON.parse(text);
      } catch (error) {
        throw badRequest(`The request body is not valid JSON: ${(error as Error).message}`, error);
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The request body must be a JSON object');
      const response = await service[operation](body as Record<string, unknown>);
      send(res, 200, service.encode(response));
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
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await service.close();
    },
  };
}

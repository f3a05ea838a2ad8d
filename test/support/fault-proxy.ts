import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../../scripts/data-api/faults.ts';

/**
 * An HTTP proxy in front of a (local) Data API server that injects the faults a window run meets on AWS,
 * with a seeded PRNG so a failing trial can be replayed:
 * - `resuming`: the call is answered `DatabaseResumingException` (HTTP 400, the AWS JSON error shape, the
 *   name in `x-amzn-errortype`) BEFORE it is forwarded, so the statement never ran;
 * - `lost`: the call is forwarded, the statement runs (and commits, outside a transaction), then the response
 *   is lost: the socket is destroyed (`reset`) or a 500 `InternalServerErrorException` is sent instead (`5xx`).
 *
 * `rate` is the share of calls faulted; `resumingShare` the share of those answered resuming (the rest are
 * lost). Every call is counted per operation, with the faults injected, for the trial's figures.
 */
export interface FaultProxyOptions {
  /** The Data API server to forward to, e.g. `http://127.0.0.1:4321`. */
  target: string;
  seed: number;
  /** Share of calls faulted, 0..1. Settable later with `setRate`. */
  rate: number;
  /** Share of faulted calls answered DatabaseResumingException before forwarding; the rest lose their response. Default 0.5. */
  resumingShare?: number;
  /** Share of lost responses lost by a destroyed socket; the rest get a 500. Default 0.5. */
  resetShare?: number;
  /** Which calls may be faulted (default all); `rate` applies to those. For focused tests: "the first COMMIT". */
  filter?: (call: ProxiedCall) => boolean;
  /** Told about each injected fault. */
  onFault?: (fault: InjectedFault) => void;
}

/** A call as the proxy sees it. */
export interface ProxiedCall {
  /** 1-based, over all calls. */
  n: number;
  /** `Execute`, `BeginTransaction`, `CommitTransaction`, `RollbackTransaction`, `BatchExecute`. */
  operation: string;
  /** The statement, for Execute. */
  sql: string | undefined;
  /** The call carries a transactionId. */
  inTransaction: boolean;
}

export interface InjectedFault {
  n: number;
  operation: string;
  kind: 'resuming' | 'lost-reset' | 'lost-5xx';
  /** The first 80 characters of the statement, for Execute. */
  sql?: string;
}

export interface FaultStats {
  seed: number;
  requests: number;
  resuming: number;
  lost: number;
  /** Requests per operation. */
  byOperation: Record<string, number>;
}

export interface FaultProxy {
  endpoint: string;
  stats(): FaultStats;
  /** Changes the fault rate from now on (0 turns faults off). */
  setRate(rate: number): void;
  /** One line: `seed … requests … resuming … lost`. */
  summary(): string;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendServiceError(res: ServerResponse, status: number, name: string, message: string) {
  const body = JSON.stringify({ message });
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': crypto.randomUUID(),
      'x-amzn-errortype': name,
    })
    .end(body);
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const random = seededRandom(options.seed);
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true });
  const resumingShare = options.resumingShare ?? 0.5;
  const resetShare = options.resetShare ?? 0.5;
  let rate = options.rate;
  const stats: FaultStats = { seed: options.seed, requests: 0, resuming: 0, lost: 0, byOperation: {} };

  function forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host, 'content-length': body.length },
          agent,
        },
        (response) => {
          readBody(response).then((b) => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: b }), reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const operation = (req.url ?? '/').split('?')[0]!.replace(/^\//, '');
    const n = ++stats.requests;
    stats.byOperation[operation] = (stats.byOperation[operation] ?? 0) + 1;
    // Three draws per call whatever happens, so one seed gives one fault sequence over the calls in order.
    const [drawFault, drawKind, drawHow] = [random(), random(), random()];
    let parsed: { sql?: unknown; transactionId?: unknown } = {};
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      // Not JSON: forwarded as is, for the server to refuse.
    }
    const call: ProxiedCall = {
      n,
      operation,
      sql: typeof parsed.sql === 'string' ? parsed.sql : undefined,
      inTransaction: typeof parsed.transactionId === 'string',
    };
    const faulted = drawFault < rate && (options.filter?.(call) ?? true);
    const sqlText = () => call.sql?.replace(/\s+/g, ' ').slice(0, 80);
    if (faulted && drawKind < resumingShare) {
      stats.resuming++;
      options.onFault?.({ n, operation, kind: 'resuming', ...(call.sql === undefined ? {} : { sql: sqlText() }) });
      sendServiceError(res, 400, 'DatabaseResumingException', 'The database is resuming after being auto-paused. Please wait a few seconds and try again.');
      return;
    }
    let upstream: Awaited<ReturnType<typeof forward>>;
    try {
      upstream = await forward(req, body);
    } catch (error) {
      sendServiceError(res, 502, 'InternalServerErrorException', `fault proxy: upstream failed: ${(error as Error).message}`);
      return;
    }
    if (faulted) {
      // The statement ran; its response never arrives.
      stats.lost++;
      const kind = drawHow < resetShare ? 'lost-reset' : 'lost-5xx';
      options.onFault?.({ n, operation, kind, ...(call.sql === undefined ? {} : { sql: sqlText() }) });
      if (kind === 'lost-reset') req.socket.destroy();
      else sendServiceError(res, 500, 'InternalServerErrorException', 'fault proxy: the response was lost after the statement ran');
      return;
    }
    const headers = { ...upstream.headers };
    delete headers['transfer-encoding'];
    headers['content-length'] = String(upstream.body.length);
    res.writeHead(upstream.status, headers).end(upstream.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => ({ ...stats, byOperation: { ...stats.byOperation } }),
    setRate(next: number) {
      rate = next;
    },
    summary: () => `fault proxy: seed ${stats.seed}, ${stats.requests} requests, ${stats.resuming} answered resuming, ${stats.lost} responses lost`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { openLockedPglite } from '../pglite-target.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { DEFAULT_PGLITE_DIR } from '../../../lambdas/core/db/pglite.ts';
import { parseFaults } from '../../data-api/faults.ts';
import { startDataApiServer } from '../../data-api/server.ts';

const USAGE = `usage: offpeak data-api serve [--port N] [--database-url URL | --pglite-dir DIR] [--wait-for-lock]
                              [--statement-timeout-ms 45000] [--transaction-idle-timeout-ms 180000]
                              [--max-response-bytes 1048576] [--verbose]
                              [--faults resuming=0.05,unavailable=0.01,lost=0.02,endpoint-disabled,...] [--seed N]

Serves the RDS Data API (POST /Execute, /BatchExecute, /BeginTransaction,
/CommitTransaction, /RollbackTransaction) on 127.0.0.1 over a PostgreSQL URL, or
over the embedded PGlite (default ${DEFAULT_PGLITE_DIR}). Point an RDSDataClient at it
with endpoint: 'http://127.0.0.1:N'; any ARN is accepted and signatures are ignored.
PGlite is a single connection: calls are serialized, and a call from outside an
open transaction is refused at once (DatabaseUnavailableException) until it ends.

--faults injects AWS's failures so you can test retry code: resuming=P,
pause-after=MS (+ resume-calls=N), unavailable=P, lost=P (the call runs, the reply
is dropped), endpoint-disabled, secret-error=ARN. --seed N replays the same draws.
At run time: curl -X POST http://127.0.0.1:N/_offpeak/faults -d '{"faults":"lost=0.5","seed":7}'
`;

function positiveInteger(value: string | undefined, flag: string, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new ConfigError(`--${flag} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`);
  return n;
}

export const dataApiServeCommand: Command = {
  name: 'data-api serve',
  summary: 'serve the RDS Data API locally over PGlite or a PostgreSQL URL',
  async run({ argv, stdout, stderr, cwd }) {
    const { values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        'database-url': { type: 'string' },
        'pglite-dir': { type: 'string' },
        'wait-for-lock': { type: 'boolean', default: false },
        'statement-timeout-ms': { type: 'string' },
        'transaction-idle-timeout-ms': { type: 'string' },
        'max-response-bytes': { type: 'string' },
        verbose: { type: 'boolean', default: false },
        faults: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      stdout.write(USAGE);
      return ExitCode.ok;
    }
    if (values['database-url'] && values['pglite-dir']) throw new ConfigError('choose one database: --database-url or --pglite-dir, not both');
    const port = positiveInteger(values.port, 'port', 0, true);
    if (port > 65535) throw new ConfigError(`--port must be at most 65535, got ${port}`);
    const limits = {
      statementTimeoutMs: positiveInteger(values['statement-timeout-ms'], 'statement-timeout-ms', 45_000),
      transactionIdleTimeoutMs: positiveInteger(values['transaction-idle-timeout-ms'], 'transaction-idle-timeout-ms', 180_000),
      maxResponseBytes: positiveInteger(values['max-response-bytes'], 'max-response-bytes', 1_048_576),
    };

    let faults;
    try {
      faults = parseFaults(values.faults ?? '');
    } catch (error) {
      throw new ConfigError(`--faults: ${(error as Error).message}`, { cause: error });
    }
    const seed = values.seed === undefined ? undefined : positiveInteger(values.seed, 'seed', 0, true);

    const embedded = values['database-url']
      ? undefined
      : await openLockedPglite({ dataDir: resolve(cwd, values['pglite-dir'] ?? DEFAULT_PGLITE_DIR), waitForLock: values['wait-for-lock'] });
    const verbose = values.verbose;
    let server;
    try {
      server = await startDataApiServer({
        ...(embedded ? { pglite: embedded.db } : { databaseUrl: values['database-url']! }),
        port,
        ...limits,
        faults,
        ...(seed === undefined ? {} : { seed }),
        log: (event) => {
          if (verbose || (typeof event['status'] === 'number' && event['status'] >= 500) || event['event'] !== 'data_api_request') {
            stderr.write(`${JSON.stringify(event)}\n`);
          }
        },
      });
    } catch (error) {
      if (embedded) {
        await embedded.db.close();
        embedded.release();
      }
      throw new ConfigError(`could not start the Data API server: ${(error as Error).message}`, { cause: error });
    }
    stdout.write(`listening on ${server.endpoint}\n`);
    if (server.faults.active) stdout.write(`injecting faults ${server.faults.describe().faults} (seed ${server.faults.seed})\n`);

    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    stderr.write('shutting down: rolling back open transactions\n');
    await server.close();
    if (embedded) {
      await embedded.db.close();
      embedded.release();
    }
    return ExitCode.ok;
  },
};

import { types, type PGlite } from '@electric-sql/pglite';
import type { Backend, RawResult, RawValue, Session } from './backend.ts';
import { databaseUnavailable } from './service-error.ts';

const identity = (text: string) => text;

/**
 * Parsers that return every value as PostgreSQL's text. PGlite merges per-query
 * parsers with its own by spreading them, so each OID it knows a parser for must
 * be listed; OIDs without a parser already come back as text.
 */
function rawParsersFor(db: PGlite): () => Record<number, typeof identity> {
  let known = -1;
  let parsers: Record<number, typeof identity> = {};
  return () => {
    const own = (db as unknown as { parsers: Record<string, unknown> }).parsers;
    const keys = [...Object.keys(own), ...Object.keys(types.parsers)];
    if (keys.length !== known) {
      known = keys.length;
      parsers = Object.fromEntries(keys.map((k) => [Number(k), identity]));
    }
    return parsers;
  };
}

/** Sends every parameter in text format, so PGlite behaves like pg (no JS-side coercion). */
const textSerializers = new Proxy(
  {},
  {
    get: () => (value: unknown) => {
      if (typeof value === 'boolean') return value ? 't' : 'f';
      if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
      return String(value);
    },
  },
);

/**
 * PGlite is one connection and runs statements on the JavaScript thread. A
 * session holds it exclusively from open to release. Calls outside transactions
 * take turns (each is short). An open Data API transaction holds the connection
 * until it commits, rolls back or idles out, so any other call meanwhile (an
 * autocommit call, another BeginTransaction) is refused at once with
 * DatabaseUnavailableException naming the limitation, rather than waiting up to the
 * idle timeout: running it on the one connection would put it inside that transaction,
 * and a second embedded instance would not see the transaction's database.
 * Statements cannot be cancelled: PGlite has no second connection and no timer interrupts.
 */
export function createPgliteBackend(db: PGlite, options: { closeDb?: boolean } = {}): Backend {
  const rawParsers = rawParsersFor(db);
  let held = false;
  /** A transaction holds the connection or is queued for it. */
  let transactions = 0;
  const waiters: Array<{ purpose: 'call' | 'transaction'; grant: () => void }> = [];

  const heldByTransaction = () =>
    databaseUnavailable(
      'The embedded PGlite database is a single connection, and an open Data API transaction holds it: ' +
        'a call outside that transaction (another BeginTransaction included) cannot run until it commits or rolls back. ' +
        'Make the call inside the transaction, end the transaction first, or serve a PostgreSQL URL (--database-url) to test concurrent transactions.',
    );

  async function acquire(purpose: 'call' | 'transaction' | 'close'): Promise<void> {
    if (purpose !== 'close' && transactions > 0) throw heldByTransaction();
    if (purpose === 'transaction') transactions++;
    if (!held) {
      held = true;
      return;
    }
    await new Promise<void>((grant) => waiters.push({ purpose: purpose === 'transaction' ? 'transaction' : 'call', grant }));
  }

  function handOn(purpose: 'call' | 'transaction') {
    if (purpose === 'transaction') transactions--;
    const next = waiters.shift();
    if (next) next.grant();
    else held = false;
  }

  return {
    kind: 'pglite',
    concurrent: false,
    async open(_database, purpose) {
      await acquire(purpose);
      let released = false;
      const session: Session = {
        connectionId: 1,
        async query(text: string, values: RawValue[]): Promise<RawResult> {
          const result = await db.query<unknown[]>(text, values, {
            rowMode: 'array',
            parsers: rawParsers(),
            serializers: textSerializers,
          });
          return {
            fields: result.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
            rows: result.rows as Array<Array<string | null>>,
            rowCount: result.affectedRows ?? null,
          };
        },
        async cancel() {
          return false;
        },
        release(reset) {
          if (released) return;
          released = true;
          const unlock = () => handOn(purpose);
          if (!reset) return unlock();
          db.exec('DISCARD ALL').then(unlock, async () => {
            // Left inside a transaction block (a bare BEGIN): end it so the next caller starts clean.
            await db.exec('ROLLBACK').catch(() => undefined);
            await db.exec('DISCARD ALL').catch(() => undefined);
            unlock();
          });
        },
      };
      return session;
    },
    async close() {
      await acquire('close');
      if (options.closeDb) await db.close();
    },
  };
}

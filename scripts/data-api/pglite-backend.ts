import { types, type PGlite } from '@electric-sql/pglite';
import type { Backend, RawResult, RawValue, Session } from './backend.ts';

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
 * session holds it exclusively from open to release, so a call from outside an
 * open transaction waits until that transaction ends. Statements cannot be
 * cancelled: PGlite has no second connection and no timer interrupts.
 */
export function createPgliteBackend(db: PGlite, options: { closeDb?: boolean } = {}): Backend {
  let tail: Promise<void> = Promise.resolve();
  const rawParsers = rawParsersFor(db);

  async function lock(): Promise<() => void> {
    let unlock!: () => void;
    const held = new Promise<void>((resolve) => (unlock = resolve));
    const previous = tail;
    tail = previous.then(() => held);
    await previous;
    return unlock;
  }

  return {
    kind: 'pglite',
    concurrent: false,
    async open() {
      const unlock = await lock();
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
      await lock();
      if (options.closeDb) await db.close();
    },
  };
}

/**
 * A second process for the PGlite lock tests: takes the lock on argv[2] (with
 * `--pglite`, opens the real database through the CLI's opener; with `--wait`,
 * waits for it), prints one JSON line `{"event":"locked",...}` (or `refused`) and
 * holds until stdin closes or says "release".
 */
import { createInterface } from 'node:readline';
import { acquirePgliteLock } from '../../lambdas/core/db/pglite-lock.ts';
import { DatabaseLockedError } from '../../lambdas/core/errors.ts';

const [dataDir, ...flags] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: hold-pglite-lock.ts <dataDir> [--pglite] [--wait]');
const wait = flags.includes('--wait');

let release: () => Promise<void>;
if (flags.includes('--pglite')) {
  // Imported only here: loading PGlite costs seconds the lock-only tests need not pay.
  const { openPgliteClient } = await import('../../scripts/cli/pglite-target.ts');
  try {
    const client = await openPgliteClient({ dataDir, waitForLock: wait, onWait: () => console.log(JSON.stringify({ event: 'waiting' })) });
    release = () => client.close();
  } catch (error) {
    if (!(error instanceof DatabaseLockedError)) throw error;
    console.log(JSON.stringify({ event: 'refused', message: error.message }));
    process.exit(0);
  }
} else {
  const lock = await acquirePgliteLock(dataDir, { wait, pollMs: 50, command: 'hold-pglite-lock', onWait: () => console.log(JSON.stringify({ event: 'waiting' })) });
  release = async () => lock.release();
}
console.log(JSON.stringify({ event: 'locked', pid: process.pid }));

const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line.trim() === 'release') break;
await release();
console.log(JSON.stringify({ event: 'released' }));

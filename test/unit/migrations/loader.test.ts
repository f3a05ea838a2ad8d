import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationGraphError } from '../../../lambdas/core/errors.ts';
import { loadMigrationsFromDir } from '../../../lambdas/core/migrations/load-dir.ts';

const model = resolve('lambdas/core/migrations/model.ts');

describe('loadMigrationsFromDir', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'offpeak-loader-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('imports each file, sorted, with its file name and checksum', async () => {
    // Prepare
    const ok = join(dir, 'ok');
    await import('node:fs/promises').then((fs) => fs.mkdir(ok));
    const file = (rev: string, down: string | null) =>
      `import { defineMigration, sqlStep } from ${JSON.stringify(model)};\nexport default defineMigration({ revision: '${rev}', downRevision: ${JSON.stringify(down)}, description: 'x', risk: 'low', up: [sqlStep('SELECT 1')], down: [sqlStep('SELECT 2')] });\n`;
    await writeFile(join(ok, '202501010002_second.ts'), file('b2', 'a1'));
    await writeFile(join(ok, '202501010001_first.ts'), file('a1', null));
    await writeFile(join(ok, '_helper.ts'), 'export const ignored = 1;\n');

    // Act
    const loaded = await loadMigrationsFromDir(ok);

    // Assess
    expect(loaded.map((m) => [m.file, m.revision])).toEqual([
      [join(ok, '202501010001_first.ts'), 'a1'],
      [join(ok, '202501010002_second.ts'), 'b2'],
    ]);
    expect(loaded[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names the file that does not export a migration', async () => {
    // Prepare
    const bad = join(dir, 'bad');
    await import('node:fs/promises').then((fs) => fs.mkdir(bad));
    await writeFile(join(bad, '202501010001_oops.ts'), 'export default { hello: 1 };\n');

    // Act
    const error = await loadMigrationsFromDir(bad).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(MigrationGraphError);
    expect((error as Error).message).toContain('202501010001_oops.ts: the default export is not a migration');
  });
});

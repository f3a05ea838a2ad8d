import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esbuildOptions, HandlerEntry, type HandlerName } from '../../infra/bundling.ts';
import { migrations } from '../../migrations/_index.ts';

/**
 * Bundles every handler exactly as the stack does (infra/bundling.ts feeds both)
 * and checks what went in: every migration in the bundles that run them, and no
 * pg, PGlite or libpg-query anywhere.
 */
const outDir = mkdtempSync(path.join(tmpdir(), 'offpeak-bundles-'));
const bundles = new Map<HandlerName, { code: string; bytes: number; inputs: string[] }>();

beforeAll(async () => {
  for (const name of Object.keys(HandlerEntry) as HandlerName[]) {
    const outfile = path.join(outDir, `${name}.mjs`);
    const result = await build(esbuildOptions(name, outfile));
    const meta = result.metafile as Metafile;
    bundles.set(name, { code: readFileSync(outfile, 'utf8'), bytes: statSync(outfile).size, inputs: Object.keys(meta.inputs) });
  }
});

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('handler bundles', () => {
  it.each(['migrate', 'rollback', 'plan'] as const)('%s carries every migration in migrations/_index.ts', (name) => {
    const bundle = bundles.get(name)!;
    expect(migrations.length).toBeGreaterThan(0);
    for (const { file, migration } of migrations) {
      expect(bundle.inputs, file).toContain(`migrations/${file}`);
      expect(bundle.code, migration.revision).toContain(migration.revision);
    }
  });

  it('keep error class names through minification (they are the Lambda errorType that alarms and Retry match)', () => {
    expect(bundles.get('migrate')!.code).toContain('"LeaseHeldError"');
    expect(bundles.get('migrate')!.code).toContain('"MigrationFailedError"');
    expect(bundles.get('rollback')!.code).toContain('"ValidationError"');
  });

  it('never include pg, PGlite or libpg-query', () => {
    for (const [name, bundle] of bundles) {
      const heavy = bundle.inputs.filter((i) => /node_modules\/(pg|pg-[a-z-]+|@electric-sql\/pglite|libpg-query)\//.test(i));
      expect(heavy, name).toEqual([]);
      expect(bundle.inputs.some((i) => i.endsWith('lambdas/core/db/statements.ts')), name).toBe(false);
    }
  });

  it.each(['plan', 'migrate', 'rollback', 'analyze', 'indexReport', 'slackNotify', 'alarmNotify'] as const)('%s stays under 800 KB minified', (name) => {
    // zod must be imported as a namespace (`import * as z`): the named form makes esbuild keep
    // all of zod with every locale (~440 KB).
    expect(bundles.get(name)!.bytes).toBeLessThan(800 * 1024);
  });

  it('bundle the SDK clients each handler uses, and only those', () => {
    const uses = (name: HandlerName, pkg: string) => bundles.get(name)!.inputs.some((i) => i.includes(`node_modules/${pkg}/`));
    expect(uses('migrate', '@aws-sdk/client-rds-data')).toBe(true);
    expect(uses('migrate', '@aws-sdk/client-sns')).toBe(false);
    expect(uses('indexReport', '@aws-sdk/client-sns')).toBe(true);
    expect(uses('slackNotify', '@aws-sdk/client-rds-data')).toBe(false);
    expect(uses('slackNotify', '@aws-sdk/client-secrets-manager')).toBe(true);
    expect(uses('alarmNotify', '@aws-sdk/client-sns')).toBe(true);
    expect(uses('alarmNotify', '@aws-sdk/client-rds-data')).toBe(false);
    expect(uses('plan', '@aws-sdk/client-cloudwatch')).toBe(true);
    expect(uses('migrate', '@aws-sdk/client-cloudwatch')).toBe(false);
  });
});

/**
 * Lambda bundles: for each handler, the minified bundle size and the cold import
 * time of the bundle in a fresh Node process, against importing
 * `@aws-sdk/client-rds-data` alone (the floor any Data API handler pays).
 * Bundles are built with the stack's own esbuild options (infra/bundling.ts).
 * Runs alternate between the bundle and the bare client so machine load hits both
 * alike; figures are medians. Targets: ≤ 800 KB per bundle, cold import ≤ 2× the client.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptions, HandlerEntry, PROJECT_ROOT, type HandlerName } from '../infra/bundling.ts';
import { line, ms } from './_report.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);
const SIZE_TARGET = 800 * 1024;
const IMPORT_TARGET = 2;

const outDir = mkdtempSync(path.join(tmpdir(), 'offpeak-bench-bundles-'));

/**
 * Milliseconds to import `specifier` in a fresh Node process (module evaluation
 * included), plus constructing a client when `construct` names the export.
 */
function coldImport(specifier: string, construct?: string): number {
  const make = construct ? `new m.${construct}({ region: 'us-east-1' });` : '';
  const script = `const t = performance.now(); const m = await import(${JSON.stringify(specifier)}); ${make} process.stdout.write(String(performance.now() - t));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    env: { ...process.env, POWERTOOLS_METRICS_DISABLED: 'true', AWS_REGION: 'us-east-1' },
  });
  if (result.status !== 0) throw new Error(`import of ${specifier} failed: ${result.stderr}`);
  return Number(result.stdout);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// The bare client is imported from node_modules (as a handler without bundling would) and constructed,
// as every handler constructs its clients at module scope.
const bare = () => coldImport('@aws-sdk/client-rds-data', 'RDSDataClient');

process.stdout.write(`handler bundles (minified ESM, node24 target), cold import: median of ${RUNS} fresh processes\n`);
let missed = 0;
try {
  for (const name of Object.keys(HandlerEntry) as HandlerName[]) {
    const outfile = path.join(outDir, `${name}.mjs`);
    await build(esbuildOptions(name, outfile));
    const bytes = statSync(outfile).size;
    const bundleTimes: number[] = [];
    const clientTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      bundleTimes.push(coldImport(pathToFileURL(outfile).href));
      clientTimes.push(bare());
    }
    const bundleMs = median(bundleTimes);
    const clientMs = median(clientTimes);
    const ratio = bundleMs / clientMs;
    const sizeOk = bytes <= SIZE_TARGET;
    const importOk = ratio <= IMPORT_TARGET;
    if (!sizeOk || !importOk) missed++;
    line(`${name}: bundle size`, `${(bytes / 1024).toFixed(0)} KB ${sizeOk ? '(≤ 800 KB)' : '(OVER 800 KB)'}`);
    line(`${name}: cold import bundle / bare client`, `${ms(bundleMs)} / ${ms(clientMs)} = ${ratio.toFixed(2)}× ${importOk ? '(≤ 2×)' : '(OVER 2×)'}`);
  }
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
process.stdout.write(missed ? `${missed} handler(s) miss a target\n` : 'every handler meets both targets\n');

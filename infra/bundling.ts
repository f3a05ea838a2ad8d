import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

/**
 * One source of truth for how a handler is bundled: the CDK construct maps these
 * onto NodejsFunction, and the bundle test and bench/bundles.ts hand them to
 * esbuild directly, so what is measured and proved is what is deployed.
 */

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every Lambda handler, by its entry path relative to the project root. */
export const HandlerEntry = {
  plan: 'lambdas/handlers/plan.ts',
  migrate: 'lambdas/handlers/migrate.ts',
  rollback: 'lambdas/handlers/rollback.ts',
  analyze: 'lambdas/handlers/analyze.ts',
  indexReport: 'lambdas/handlers/index-report.ts',
  slackNotify: 'lambdas/handlers/slack-notify.ts',
  notify: 'lambdas/handlers/notify.ts',
  alarmNotify: 'lambdas/handlers/alarm-notify.ts',
  doctor: 'lambdas/handlers/doctor.ts',
  rehearsal: 'lambdas/handlers/rehearsal.ts',
} as const;

export type HandlerName = keyof typeof HandlerEntry;

export const entryPath = (name: HandlerName): string => path.join(PROJECT_ROOT, HandlerEntry[name]);

/** Matches the Lambda runtime (nodejs24.x) set in constructs/offpeak-function.ts. */
export const ESBUILD_TARGET = 'node24';

/**
 * ESM output needs a `require` for the few CommonJS dependencies esbuild inlines
 * (the AWS SDK's transitive deps); this is the shim AWS's own docs use.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __offpeakCreateRequire } from 'node:module'; const require = __offpeakCreateRequire(import.meta.url);";

/**
 * The AWS SDK is bundled, not taken from the runtime: the runtime's copy changes
 * version under us, and bundling lets esbuild drop what the handlers never use.
 */
export const EXTERNAL_MODULES: string[] = [];

/** esbuild options equivalent to the NodejsFunction bundling in OffpeakFunction. */
export function esbuildOptions(name: HandlerName, outfile: string): BuildOptions {
  return {
    entryPoints: [entryPath(name)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: ESBUILD_TARGET,
    minify: true,
    // Error classes name themselves from new.target.name: without this, minification would turn
    // LeaseHeldError into a one-letter name in logs, the Lambda errorType and Step Functions' Retry/Catch.
    keepNames: true,
    sourcemap: false,
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    external: EXTERNAL_MODULES,
    logLevel: 'silent',
    metafile: true,
  };
}

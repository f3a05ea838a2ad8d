import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveLintConfig } from '../../../lambdas/core/lint/config.ts';
import { lintPaths } from '../../../lambdas/core/lint/lint.ts';
import type { Example } from '../../../lambdas/core/lint/rule-examples.ts';
import { lintSqlText } from '../../../lambdas/core/lint/sql-file.ts';
import type { Violation } from '../../../lambdas/core/lint/violation.ts';

/** Lints one rule example as the reference presents it: a .sql file, or a migration module. */
const model = pathToFileURL(resolve('lambdas/core/migrations/model.ts')).href;
const config = resolveLintConfig({});
let dir: string | undefined;

export function moduleSource(example: Example, modelImport: string): string | undefined {
  if ('source' in example) return example.source.replace("'MODEL'", `'${modelImport}'`);
  if ('migration' in example) {
    return `import { createIndex, defineMigration, dropIndex, sqlStep } from '${modelImport}';
void createIndex; void dropIndex; void sqlStep;
export default defineMigration({
  ...{ revision: 'r1', downRevision: 'r0', description: 'example', risk: 'low' },
${example.migration.replace(/^/gm, '  ')},
});
`;
  }
  return undefined;
}

let n = 0;
export async function lintExample(example: Example): Promise<Violation[]> {
  if ('sql' in example) return lintSqlText(example.file ?? 'example.sql', example.sql, config);
  dir ??= mkdtempSync(join(tmpdir(), 'offpeak-lint-examples-'));
  // One folder per example: lint reads a file's neighbours as its migration graph.
  const folder = join(dir, String(++n));
  const file = join(folder, example.file ?? '202601011200_example.ts');
  mkdirSync(folder);
  writeFileSync(join(folder, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(file, moduleSource(example, model)!);
  return (await lintPaths({ paths: [file], config })).violations;
}

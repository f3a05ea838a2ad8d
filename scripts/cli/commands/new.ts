import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { commonOptions, helpRequested, migrationsDir, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { loadGraph } from '../load-graph.ts';
import { writeRegistry } from '../migration-registry.ts';
import { renderMigrationTemplate } from '../migration-template.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import type { Risk } from '../../../lambdas/core/migrations/model.ts';
import { migrationFileName, nextRevisionStamp, revisionStamp, revisionStampProblem, shortNameProblem } from '../../../lambdas/core/migrations/file-name.ts';

const usage = 'new <short_name> [--risk low|medium|high] [--rev-id YYYYMMDDHHMM] [--migrations DIR] [--json]';
const RISKS: readonly Risk[] = ['low', 'medium', 'high'];

export const newCommand: Command = {
  name: 'new',
  summary: 'write migrations/YYYYMMDDHHMM_short_name.ts on top of the current head',
  async run({ argv, stdout, stderr, cwd }) {
    const options = { ...commonOptions, risk: { type: 'string' }, 'rev-id': { type: 'string' } } as const;
    const { values, positionals } = parseVerb(argv, { usage, options, positionals: { min: 1, max: 1 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const name = positionals[0]!;
    const nameProblem = shortNameProblem(name);
    if (nameProblem) throw new ConfigError(nameProblem);
    const risk = (values.risk ?? 'low') as Risk;
    if (!RISKS.includes(risk)) throw new ConfigError(`--risk ${JSON.stringify(values.risk)} is not valid: use low, medium or high`);
    const revIdOption = values['rev-id'];
    const stampProblem = revIdOption === undefined ? undefined : revisionStampProblem(revIdOption);
    if (stampProblem) throw new ConfigError(`--rev-id: ${stampProblem}; give YYYYMMDDHHMM (UTC)`);

    const dir = migrationsDir(values, cwd);
    if (!existsSync(dir)) throw new ConfigError(`the migrations directory ${dir} does not exist: create it or pass --migrations DIR`);
    const graph = await loadGraph(dir);
    const downRevision = graph.head();

    let revision = revIdOption ?? revisionStamp(new Date());
    const taken = (rev: string) => graph.all.has(rev) || [...graph.all.values()].some((m) => m.file.split('/').pop()!.startsWith(`${rev}_`));
    if (revIdOption !== undefined && taken(revision)) throw new ConfigError(`revision ${revision} already exists: choose another --rev-id`);
    while (taken(revision)) revision = nextRevisionStamp(revision);

    const file = join(dir, migrationFileName(revision, name));
    const modelImport = relative(dir, fileURLToPath(new URL('../../../lambdas/core/migrations/model.ts', import.meta.url))).split(sep).join('/');
    await writeFile(file, renderMigrationTemplate({ revision, downRevision, name, risk, modelImport }), { flag: 'wx' });
    const registry = await writeRegistry(dir);
    out.result({ revision, downRevision: downRevision ?? null, file: relative(cwd, file), risk, registry: relative(cwd, registry) });
    out.line(`created ${relative(cwd, file)} (revision ${revision}, down revision ${downRevision ?? '<base>'}, risk ${risk})`);
    out.line(`updated ${relative(cwd, registry)}`);
    out.line('next: write its up steps, then `offpeak check` and `offpeak upgrade head --sql` to preview');
    return ExitCode.ok;
  },
};

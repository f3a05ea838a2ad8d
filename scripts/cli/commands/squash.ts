import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { commonOptions, helpRequested, migrationsDir, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { loadGraph } from '../load-graph.ts';
import { writeRegistry } from '../migration-registry.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { buildSquash } from '../../../lambdas/core/lint/squash.ts';
import { migrationFileName, revisionStamp, revisionStampProblem, shortNameProblem } from '../../../lambdas/core/migrations/file-name.ts';

const usage = 'squash --to REV [--name short_name] [--rev-id YYYYMMDDHHMM] [--migrations DIR] [--json]';

export const squashCommand: Command = {
  name: 'squash',
  summary: 'write one migration that replaces every migration from base to REV',
  async run({ argv, stdout, stderr, cwd }) {
    const options = { ...commonOptions, to: { type: 'string' }, name: { type: 'string' }, 'rev-id': { type: 'string' } } as const;
    const { values } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    if (!values.to) throw new ConfigError(`--to REV is required: the last revision the squash replaces\nusage: offpeak ${usage}`);
    const to = values.to;
    const name = values.name ?? `squash_to_${to.toLowerCase()}`;
    const nameProblem = shortNameProblem(name);
    if (nameProblem) throw new ConfigError(`--name: ${nameProblem}`);
    const revision = values['rev-id'] ?? revisionStamp(new Date());
    const stampProblem = revisionStampProblem(revision);
    if (stampProblem) throw new ConfigError(`--rev-id: ${stampProblem}; give YYYYMMDDHHMM (UTC)`);

    const dir = migrationsDir(values, cwd);
    if (!existsSync(dir)) throw new ConfigError(`the migrations directory ${dir} does not exist: pass --migrations DIR`);
    const graph = await loadGraph(dir);
    const squash = await buildSquash({ graph, to, revision, name, modelImport: 'offpeak' });

    const file = join(dir, migrationFileName(revision, name));
    try {
      await writeFile(file, squash.source, { flag: 'wx' });
    } catch (error) {
      throw new ConfigError(`cannot write ${relative(cwd, file)}: ${(error as Error).message}; choose another --rev-id or --name`, { cause: error });
    }
    const registry = await writeRegistry(dir);
    out.result({ revision, file: relative(cwd, file), replaces: squash.replaces, risk: squash.risk, irreversible: squash.irreversible, registry: relative(cwd, registry) });
    out.line(`created ${relative(cwd, file)} (revision ${revision}, replaces ${squash.replaces.join(', ')}, risk ${squash.risk})`);
    out.line(`updated ${relative(cwd, registry)}`);
    out.line('next: `offpeak lint` and `offpeak check`; once every database has recorded the squash, delete the replaced files and run `offpeak check --fix-registry`');
    return ExitCode.ok;
  },
};

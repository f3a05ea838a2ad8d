import { basename, relative } from 'node:path';
import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, migrationsDir, migrationVerbOptions, parseVerb } from '../args.ts';
import { createOutput } from '../output.ts';
import { loadGraph } from '../load-graph.ts';
import { checkRegistry, REGISTRY_FILE, writeRegistry } from '../migration-registry.ts';
import { hasExplicitTarget } from '../ledger-check.ts';
import { withMigrator } from '../session.ts';
import { OffpeakError } from '../../../lambdas/core/errors.ts';
import { migrationFileNameProblem } from '../../../lambdas/core/migrations/file-name.ts';
import type { MigrationGraph } from '../../../lambdas/core/migrations/graph.ts';
import { emptyMigrationProblem } from '../../../lambdas/core/migrations/planner.ts';
import { tableMismatches } from '../../../lambdas/core/migrations/parsed-tables.ts';

const usage = 'check [--fix-registry] [--migrations DIR] [--database-url URL | Data API options] [--json]';

interface Problem {
  file: string | null;
  message: string;
}

async function stepProblems(graph: MigrationGraph): Promise<Problem[]> {
  // Imported here so the parser's WASM loads only for `check`, not for every verb.
  const { countStatements } = await import('../../../lambdas/core/db/statements.ts');
  const problems: Problem[] = [];
  for (const m of graph.all.values()) {
    const empty = emptyMigrationProblem(m);
    if (empty) problems.push({ file: m.file, message: `${m.file} (${m.revision}): ${empty}` });
    const nameProblem = migrationFileNameProblem(basename(m.file));
    if (nameProblem) problems.push({ file: m.file, message: `file name must be YYYYMMDDHHMM_short_name.ts: ${nameProblem}` });
    for (const [direction, steps] of [['up', m.up], ['down', m.down]] as const) {
      for (const [i, step] of steps.entries()) {
        let count: number;
        try {
          count = await countStatements(step.sql);
        } catch (error) {
          problems.push({ file: m.file, message: `${direction} step ${i + 1} (${step.description}): ${(error as Error).message}` });
          continue;
        }
        if (count !== 1) {
          problems.push({
            file: m.file,
            message: `${direction} step ${i + 1} (${step.description}) has ${count} statements: the Data API runs one per call, so split it into ${count === 0 ? 'a real statement' : `${count} steps`}`,
          });
        }
      }
    }
    // Plan expectations are PREPAREd and EXPLAINed: exactly one statement, and one the parser reads.
    for (const e of m.expect) {
      try {
        const count = await countStatements(e.sql);
        if (count !== 1) problems.push({ file: m.file, message: `expectation ${JSON.stringify(e.name)} has ${count} statements: give one query` });
      } catch (error) {
        problems.push({ file: m.file, message: `expectation ${JSON.stringify(e.name)}: ${(error as Error).message}` });
      }
    }
  }
  return problems;
}

/**
 * Files alone: loading, the graph (duplicates, missing down revisions, cycles, several heads),
 * file names, one statement per step (real parser), and migrations/_index.ts in sync.
 * With a target: also the ledger (applied revisions whose file is gone, changed checksums).
 */
export const checkCommand: Command = {
  name: 'check',
  summary: 'validate the migrations: graph, one statement per step, registry; with a target, checksums',
  async run({ argv, stdout, stderr, env, cwd }) {
    const options = { ...migrationVerbOptions, 'fix-registry': { type: 'boolean' } } as const;
    const { values } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const out = createOutput({ stdout, stderr }, values.json ?? false);
    const dir = migrationsDir(values, cwd);
    const problems: Problem[] = [];
    let graph: MigrationGraph | undefined;
    let heads: string[] = [];
    try {
      graph = await loadGraph(dir);
      heads = graph.heads();
      graph.head();
    } catch (error) {
      if (!(error instanceof OffpeakError)) throw error;
      problems.push({ file: (error.context['file'] as string | undefined) ?? null, message: error.message });
    }
    if (graph) problems.push(...(await stepProblems(graph)));

    if (values['fix-registry']) out.line(`rewrote ${relative(cwd, await writeRegistry(dir))}`);
    const registry = await checkRegistry(dir);
    if (!registry.inSync) {
      const detail = [
        registry.missing.length ? `missing ${registry.missing.join(', ')}` : '',
        registry.extra.length ? `lists files that do not exist: ${registry.extra.join(', ')}` : '',
      ].filter(Boolean);
      problems.push({
        file: relative(cwd, registry.path),
        message: `${REGISTRY_FILE} is out of sync with the directory${detail.length ? ` (${detail.join('; ')})` : ''}: run \`offpeak check --fix-registry\` to regenerate it`,
      });
    }

    let ledgerChecked = false;
    // A declared table list that differs from the parser's (parsed-tables.ts): the declaration wins, so say so.
    const warnings: string[] = graph ? [...graph.all.values()].flatMap((m) => tableMismatches(m).map((w) => `${m.file}: ${w}`)) : [];
    if (graph && problems.length === 0 && hasExplicitTarget(values, env)) {
      try {
        warnings.push(...(await withMigrator({ values, env, cwd, dir, readOnly: true }, (migrator) => migrator.check())).warnings);
        ledgerChecked = true;
      } catch (error) {
        if (!(error instanceof OffpeakError)) throw error;
        problems.push({ file: (error.context['file'] as string | undefined) ?? null, message: error.message });
      }
    }

    const migrations = graph?.all.size ?? 0;
    out.result({ ok: problems.length === 0, migrations, heads, ledgerChecked, problems, warnings });
    for (const w of warnings) out.line(`warning: ${w}`);
    for (const p of problems) out.line(`error: ${p.file && !p.message.includes(p.file) ? `${p.file}: ` : ''}${p.message}`);
    if (problems.length === 0) {
      out.line(`ok: ${migrations} migration(s), head ${heads[0] ?? '<none>'}, every step one statement, ${REGISTRY_FILE} in sync${ledgerChecked ? ', ledger checksums match' : ''}`);
      return ExitCode.ok;
    }
    return ExitCode.usage;
  },
};

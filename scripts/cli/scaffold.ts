import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Risk } from '../../lambdas/core/migrations/model.ts';
import { writeRegistry } from './migration-registry.ts';
import { renderMigrationTemplate } from './migration-template.ts';
import { ConfigError } from '../../lambdas/core/errors.ts';
import { migrationFileName, nextRevisionStamp, revisionStamp, revisionStampProblem, shortNameProblem, SHORT_NAME_MAX_LENGTH } from '../../lambdas/core/migrations/file-name.ts';
import type { MigrationGraph } from '../../lambdas/core/migrations/graph.ts';

export const RISKS: readonly Risk[] = ['low', 'medium', 'high'];

/** A short name from a message, as Alembic makes its file names from `-m`: "Add user index" → add_user_index. */
export function slugify(message: string): string {
  let slug = message
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (/^\d/.test(slug)) slug = `m_${slug}`;
  if (slug.length > SHORT_NAME_MAX_LENGTH) slug = slug.slice(0, SHORT_NAME_MAX_LENGTH).replace(/_[^_]*$/, '');
  return slug;
}

export function parseRisk(value: string | undefined): Risk {
  const risk = (value ?? 'low') as Risk;
  if (!RISKS.includes(risk)) throw new ConfigError(`--risk ${JSON.stringify(value)} is not valid: use low, medium or high`);
  return risk;
}

export interface ScaffoldInput {
  dir: string;
  cwd: string;
  graph: MigrationGraph;
  name: string;
  description: string;
  risk: Risk;
  revId: string | undefined;
  downRevisions: string[];
}

export interface Scaffolded {
  revision: string;
  file: string;
  registry: string;
}

/** Writes `YYYYMMDDHHMM_name.ts` (the next free minute, UTC) and regenerates the registry. Used by new, revision and merge. */
export async function writeScaffold(input: ScaffoldInput): Promise<Scaffolded> {
  const nameProblem = shortNameProblem(input.name);
  if (nameProblem) throw new ConfigError(nameProblem);
  const stampProblem = input.revId === undefined ? undefined : revisionStampProblem(input.revId);
  if (stampProblem) throw new ConfigError(`--rev-id: ${stampProblem}; give YYYYMMDDHHMM (UTC)`);
  if (!existsSync(input.dir)) throw new ConfigError(`the migrations directory ${input.dir} does not exist: create it or pass --migrations DIR`);

  const { graph } = input;
  const taken = (rev: string) => graph.all.has(rev) || [...graph.all.values()].some((m) => m.file.split(/[\\/]/).pop()!.startsWith(`${rev}_`));
  let revision = input.revId ?? revisionStamp(new Date());
  if (input.revId !== undefined && taken(revision)) throw new ConfigError(`revision ${revision} already exists: choose another --rev-id`);
  while (taken(revision)) revision = nextRevisionStamp(revision);

  const file = join(input.dir, migrationFileName(revision, input.name));
  await writeFile(file, renderMigrationTemplate({ revision, downRevisions: input.downRevisions, description: input.description, risk: input.risk }), { flag: 'wx' });
  const registry = await writeRegistry(input.dir);
  return { revision, file: relative(input.cwd, file), registry: relative(input.cwd, registry) };
}

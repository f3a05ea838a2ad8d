import { cpSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openCliTarget, runCli, scratchDir, type CliTarget, writeMigration, type SyntheticMigration } from '../support/cli.ts';

/**
 * Alembic's verbs and spellings, on this file's database (scratch PostgreSQL with TEST_DATABASE_URL, else an
 * on-disk PGlite): new twice in a row, revision -m, merge, upgrade heads, an ambiguous downgrade -1,
 * history -r/-i with branch and merge points, show head/current, and status commands that warn instead of refusing.
 */
const scratch = scratchDir('alembic');
let db: CliTarget;
let target: string[];

/** Modules are cached per path within one process: every variant of the files gets its own directory. */
function directory(name: string, ms: Array<SyntheticMigration & { body?: string }> = []): string {
  const dir = join(scratch.path, name);
  mkdirSync(dir, { recursive: true });
  for (const m of ms) writeMigration(dir, m);
  return dir;
}

const A = { revision: '202601010000', downRevision: null, table: 'alembic_a' };
const B = { revision: '202601010100', downRevision: '202601010000', table: 'alembic_b' };
const C = { revision: '202601010200', downRevision: '202601010000', table: 'alembic_c' };

beforeAll(async () => {
  db = await openCliTarget(scratch.path);
  target = db.args;
}, 60_000);

afterAll(async () => {
  await db?.dispose();
  scratch.dispose();
});

describe('new and revision', () => {
  it('new scaffolds twice in a row (the first still empty); check and upgrade refuse the empty ones', async () => {
    const dir = directory('twice', [A]);
    const m = ['--migrations', dir];
    const first = await runCli(['new', 'first_step', '--rev-id', '202601020000', ...m]);
    const second = await runCli(['new', 'second_step', '--rev-id', '202601020100', ...m]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(readFileSync(join(dir, '202601020100_second_step.ts'), 'utf8')).toContain("downRevision: '202601020000'");

    const check = await runCli(['check', '--json', ...m]);
    expect(check.code).toBe(2);
    const problems = (JSON.parse(check.stdout) as { problems: Array<{ message: string }> }).problems.map((p) => p.message);
    expect(problems.filter((p) => p.includes('up must have at least one step (only a merge migration may have none)'))).toHaveLength(2);
    const up = await runCli(['upgrade', 'head', '--json', ...m, '--pglite-dir', join(scratch.path, 'never')]);
    expect(up.code).toBe(2);
    expect(JSON.parse(up.stdout).error.message).toContain('202601020000_first_step.ts (202601020000): up must have at least one step');
  });

  it('revision -m "Add user index" writes YYYYMMDDHHMM_add_user_index.ts with the message as description; --autogenerate is refused', async () => {
    const dir = directory('revision', [A]);
    const made = await runCli(['revision', '-m', 'Add user index', '--rev-id', '202601030000', '--json', '--migrations', dir]);
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ revision: '202601030000', downRevision: '202601010000' });
    expect(readFileSync(join(dir, '202601030000_add_user_index.ts'), 'utf8')).toContain("description: 'Add user index'");

    const auto = await runCli(['revision', '--autogenerate', '-m', 'x', '--migrations', dir]);
    expect(auto.code).toBe(2);
    expect(auto.stderr).toContain('--autogenerate is not supported');
    const none = await runCli(['revision', '--migrations', dir]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('-m MESSAGE is required');
  });
});

describe('branches and merges', () => {
  it('two heads: new points at merge, upgrade heads applies both, downgrade -1 is ambiguous, merge joins them and upgrade head records it', async () => {
    // Prepare: A with two children
    const dir = directory('branches', [A, B, C]);
    const m = ['--migrations', dir];
    await runCli(['check', '--fix-registry', ...m]);

    // new refuses, naming the way out
    const refused = await runCli(['new', 'x', ...m]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('offpeak merge heads');
    const heads = await runCli(['heads', ...m]);
    expect(heads.code).toBe(0);
    expect(heads.stdout).toContain('several heads: join them with `offpeak merge heads`');
    // new --head REV picks a branch
    const onB = directory('branches-new-head', [A, B, C]);
    const picked = await runCli(['new', 'on_b', '--head', B.revision, '--rev-id', '202601010300', '--json', '--migrations', onB]);
    expect(picked.code, picked.stderr).toBe(0);
    expect(JSON.parse(picked.stdout).downRevision).toBe(B.revision);

    // history marks the branch point
    const history = await runCli(['history', ...m]);
    expect(history.stdout).toContain(`<base> -> ${A.revision} (branchpoint), synthetic ${A.revision}`);
    expect(history.stdout).toContain(`${A.revision} -> ${C.revision} (head), synthetic`);

    // upgrade heads applies both branches
    const up = await runCli(['upgrade', 'heads', '--json', ...m, ...target]);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout).applied).toEqual([A.revision, B.revision, C.revision]);

    // downgrade -1 with two applied heads: ambiguous, naming them; nothing changes
    const down = await runCli(['downgrade', '-1', '--json', ...m, ...target]);
    expect(down.code).toBe(2);
    const downError = JSON.parse(down.stdout).error;
    expect(downError.code).toBe('bad_migrations');
    expect(downError.message).toMatch(/downgrade -1 is ambiguous: 2 heads are applied \(.*202601010100.*202601010200.*\)/);

    // merge writes a migration with both heads and no steps
    const merged = await runCli(['merge', '-m', 'join branches', '--rev-id', '202601040000', '--json', ...m]);
    expect(merged.code, merged.stderr).toBe(0);
    expect(JSON.parse(merged.stdout)).toMatchObject({ revision: '202601040000', downRevisions: [B.revision, C.revision] });
    const text = readFileSync(join(dir, '202601040000_join_branches.ts'), 'utf8');
    expect(text).toContain(`downRevision: ['${B.revision}', '${C.revision}']`);
    expect(text).toContain('up: [],');
    const check = await runCli(['check', ...m, ...target]);
    expect(check.code, check.stdout).toBe(0);

    // upgrade head records the merge
    const toMerge = await runCli(['upgrade', 'head', '--json', ...m, ...target]);
    expect(toMerge.code, toMerge.stderr + toMerge.stdout).toBe(0);
    expect(JSON.parse(toMerge.stdout).applied).toEqual(['202601040000']);

    // history: merge point, current, ranges
    const marked = await runCli(['history', '-i', ...m, ...target]);
    expect(marked.code, marked.stderr).toBe(0);
    expect(marked.stdout.split('\n')[0]).toBe(`${B.revision}, ${C.revision} -> 202601040000 (head) (mergepoint) (current), join branches`);
    const range = await runCli(['history', '-r', `${B.revision}:head`, '--json', ...m]);
    expect(JSON.parse(range.stdout).migrations.map((x: { revision: string }) => x.revision)).toEqual(['202601040000', B.revision]);
    const upToB = await runCli(['history', '-r', `:${B.revision}`, '--json', ...m]);
    expect(JSON.parse(upToB.stdout).migrations.map((x: { revision: string }) => x.revision)).toEqual([B.revision, A.revision]);
    const currentRange = await runCli(['history', '-r', 'current:', '--json', ...m, ...target]);
    expect(JSON.parse(currentRange.stdout).migrations.map((x: { revision: string }) => x.revision)).toEqual(['202601040000']);

    // show head and show current name the merge
    const head = await runCli(['show', 'head', '--json', ...m]);
    expect(JSON.parse(head.stdout)).toMatchObject({ revision: '202601040000', downRevisions: [B.revision, C.revision], up: [] });
    const current = await runCli(['show', 'current', '--json', ...m, ...target]);
    expect(current.code, current.stderr).toBe(0);
    expect(JSON.parse(current.stdout).revision).toBe('202601040000');

    // downgrade -1 from the merge is one step again
    const back = await runCli(['downgrade', '-1', '--json', ...m, ...target]);
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse((await runCli(['current', '--json', ...m, ...target])).stdout).current).toEqual([B.revision, C.revision]);
  }, 120_000);
});

describe('status commands never refuse', () => {
  it('current and history -i warn about an edited applied file and exit 0; check fails on it', async () => {
    // Prepare: its own database with both branches applied (independent of the other tests' order), then
    // the same files in a new directory with one of them edited
    mkdirSync(join(scratch.path, 'edited-db'), { recursive: true });
    const own = await openCliTarget(join(scratch.path, 'edited-db'));
        const applied = directory('edited-applied', [A, B, C]);
    const up = await runCli(['upgrade', 'heads', '--migrations', applied, ...own.args]);
    expect(up.code, up.stderr).toBe(0);
    const merged = await runCli(['merge', '-m', 'join branches', '--rev-id', '202601040000', '--migrations', applied]); // written, not applied
    expect(merged.code, merged.stderr).toBe(0);
    const dir = directory('edited');
    cpSync(applied, dir, { recursive: true });
    writeMigration(dir, { ...B, body: `up: [sqlStep('CREATE TABLE public.alembic_b (id bigint PRIMARY KEY, edited text)', { tables: ['alembic_b'] })],\n  down: [sqlStep('DROP TABLE IF EXISTS public.alembic_b')],` });
    expect(readdirSync(dir)).toContain('202601010100_alembic_b.ts');
    const m = ['--migrations', dir];
    onTestFinished(() => own.dispose());

    // Act
    const current = await runCli(['current', '--json', ...m, ...own.args]);
    const history = await runCli(['history', '-i', ...m, ...own.args]);
    const check = await runCli(['check', ...m, ...own.args]);
    const upgrade = await runCli(['upgrade', 'head', ...m, ...own.args]);

    // Assess
    expect(current.code, current.stderr).toBe(0);
    expect(JSON.parse(current.stdout)).toMatchObject({ current: [B.revision, C.revision] });
    expect(JSON.parse(current.stdout).warnings[0]).toContain('202601010100_alembic_b.ts (202601010100) changed after it was applied');
    expect(current.stderr).toContain('warning: ');
    expect(history.code, history.stderr).toBe(0);
    expect(history.stderr).toContain('changed after it was applied');
    expect(history.stdout).toContain(`${A.revision} -> ${B.revision} (current)`);
    expect(check.code).toBe(2);
    expect(check.stdout).toContain('changed after it was applied');
    expect(upgrade.code).toBe(2);
  }, 60_000);
});

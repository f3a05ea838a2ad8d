import { PassThrough } from 'node:stream';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ValidationError } from '../../../lambdas/core/errors.ts';
import { createInvokeRollbackCommand } from '../../../scripts/cli/commands/invoke-rollback.ts';
import { ExitCode } from '../../../scripts/cli/exit-codes.ts';

/** `offpeak invoke rollback` against a mocked Lambda: what it sends, what it asks, what it refuses. */
const lambda = mockClient(LambdaClient);
/** Invoke payloads as the SDK returns them (a Uint8Array with the blob adapter's helpers). */
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)) as never;
const decode = (bytes: unknown) => JSON.parse(new TextDecoder().decode(bytes as Uint8Array)) as Record<string, unknown>;

const DRY_RUN = {
  status: 'dry_run',
  current: ['803b93aca2d2'],
  target: '202508230001',
  revert: [{ revision: '803b93aca2d2', description: 'critical performance indexes', risk: 'high', rollbackPlan: 'drop the indexes' }],
  statements: [{ revision: '803b93aca2d2', sql: 'DROP INDEX CONCURRENTLY IF EXISTS public.idx_a' }],
  sql: 'DROP INDEX CONCURRENTLY IF EXISTS public.idx_a;\n',
};
const DONE = { status: 'rolled_back', runId: 'run-1', target: '202508230001', reverted: ['803b93aca2d2'], current: ['202508230001'] };

function run(argv: string[], deps: Parameters<typeof createInvokeRollbackCommand>[0] = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let text = '';
  stdout.on('data', (c: Buffer) => (text += c.toString()));
  stderr.on('data', (c: Buffer) => (text += c.toString()));
  const command = createInvokeRollbackCommand({ lambda: () => new LambdaClient({ region: 'eu-west-1' }), ...deps });
  const done = command.run({ argv, stdout, stderr, env: {}, cwd: process.cwd() });
  return { done, output: () => text };
}

const sent = () => lambda.commandCalls(InvokeCommand).map((c) => ({ fn: c.args[0].input.FunctionName, event: decode(c.args[0].input.Payload) }));

beforeEach(() => {
  lambda.reset();
  lambda
    .on(InvokeCommand)
    .callsFake((input: { Payload: Uint8Array }) => ({ StatusCode: 200, Payload: encode(decode(input.Payload)['confirm'] ? DONE : DRY_RUN) }));
});
afterAll(() => lambda.restore());

describe('offpeak invoke rollback', () => {
  it('shows the dry-run plan and stops there with --dry-run', async () => {
    const { done, output } = run(['--to', '-1', '--function', 'offpeak-rollback', '--dry-run']);
    expect(await done).toBe(ExitCode.ok);
    expect(sent()).toEqual([{ fn: 'offpeak-rollback', event: { target: '-1', dryRun: true } }]);
    expect(output()).toContain('roll back to: 202508230001');
    expect(output()).toContain('DROP INDEX CONCURRENTLY IF EXISTS public.idx_a');
  });

  it('asks for the target revision and rolls back when it is typed', async () => {
    const questions: string[] = [];
    const { done, output } = run(['--to', '-1', '--function', 'offpeak-rollback'], {
      interactive: true,
      ask: async (q) => {
        questions.push(q);
        return '202508230001\n';
      },
    });
    expect(await done).toBe(ExitCode.ok);
    expect(questions).toEqual(['Type 202508230001 to roll back 1 migration(s): ']);
    expect(sent()).toEqual([
      { fn: 'offpeak-rollback', event: { target: '-1', dryRun: true } },
      { fn: 'offpeak-rollback', event: { target: '202508230001', confirm: '202508230001' } },
    ]);
    expect(output()).toContain('rolled back to 202508230001: reverted 803b93aca2d2 (run run-1)');
  });

  it('changes nothing when something else is typed', async () => {
    const { done, output } = run(['--to', '-1', '--function', 'offpeak-rollback'], { interactive: true, ask: async () => 'yes' });
    expect(await done).toBe(ExitCode.usage);
    expect(sent()).toHaveLength(1);
    expect(output()).toContain('"yes" is not 202508230001: nothing was changed');
  });

  it('runs unattended only with --yes and a matching --confirm', async () => {
    await expect(run(['--to', '-1', '--function', 'f', '--yes']).done).rejects.toThrow(ConfigError);
    await expect(run(['--to', '-1', '--function', 'f'], { interactive: false }).done).rejects.toThrow(/not at a terminal: pass --yes --confirm REV/);
    expect(await run(['--to', '-1', '--function', 'f', '--yes', '--confirm', '202508190001']).done).toBe(ExitCode.usage);
    expect(sent().filter((s) => s.event['confirm'])).toEqual([]);
    expect(await run(['--to', '-1', '--function', 'f', '--yes', '--confirm', '202508230001']).done).toBe(ExitCode.ok);
    expect(sent().filter((s) => s.event['confirm'])).toEqual([{ fn: 'f', event: { target: '202508230001', confirm: '202508230001' } }]);
  });

  it('reports the function\'s validation error as a usage error', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({ errorType: 'ValidationError', errorMessage: 'rollback target nope: unknown revision nope' }),
    });
    await expect(run(['--to', 'nope', '--function', 'f']).done).rejects.toThrow(ValidationError);
    await expect(run(['--to', 'nope', '--function', 'f']).done).rejects.toThrow(/f refused: rollback target nope: unknown revision nope/);
  });

  it('names what is missing', async () => {
    await expect(run(['--function', 'f']).done).rejects.toThrow(/missing --to/);
    await expect(run(['--to', 'abc']).done).rejects.toThrow(/missing --function NAME/);
    await expect(run(['--to', 'abc', '--function', 'f', '--bogus']).done).rejects.toThrow(/Unknown option '--bogus'/);
  });
});

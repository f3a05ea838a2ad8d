import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ConfigError, OffpeakError, ValidationError } from '../../../lambdas/core/errors.ts';
import type { RollbackResult } from '../../../lambdas/handlers/rollback.ts';
import type { RollbackEvent } from '../../../lambdas/handlers/schemas.ts';
import type { Command, CommandContext } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { createOutput, type Output } from '../output.ts';

const USAGE =
  'invoke rollback --to <REV|-1> --function NAME [--region REGION] [--dry-run] [--yes --confirm REV] [--json]';

const options = {
  to: { type: 'string' },
  function: { type: 'string' },
  region: { type: 'string' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean' },
  confirm: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A rollback can run for the function's full 15 minutes; the invoke waits a little longer. */
const INVOKE_TIMEOUT_MS = 16 * 60_000;

export interface InvokeRollbackDeps {
  /** Reads the typed confirmation; default: a prompt on the terminal. */
  ask?: (question: string) => Promise<string>;
  /** Whether a person is at the terminal; default process.stdin.isTTY. */
  interactive?: boolean;
  lambda?: (region: string | undefined) => LambdaClient;
}

/** `--to -1` looks like an option to parseArgs: glue a relative target to its flag. */
function normalize(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--to' && /^-\d+$/.test(argv[i + 1] ?? '')) out.push(`--to=${argv[++i]}`);
    else out.push(argv[i]!);
  }
  return out;
}

async function invoke(client: LambdaClient, functionName: string, event: RollbackEvent): Promise<RollbackResult> {
  const output = await client.send(
    new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(event)) }),
  );
  const text = output.Payload ? new TextDecoder().decode(output.Payload) : 'null';
  const payload = JSON.parse(text) as unknown;
  if (output.FunctionError) {
    const failure = payload as { errorType?: string; errorMessage?: string };
    const message = `${functionName} refused: ${failure.errorMessage ?? text}`;
    // The handler's validation errors are the operator's to fix (exit 2); anything else failed (exit 1).
    if (failure.errorType === 'ValidationError' || failure.errorType === 'MigrationGraphError') throw new ValidationError(message);
    throw new OffpeakError(message, { context: { errorType: failure.errorType } });
  }
  return payload as RollbackResult;
}

function printPlan(out: Output, plan: Extract<RollbackResult, { status: 'dry_run' }>): void {
  out.line(`current: ${plan.current.join(', ') || 'base'}`);
  out.line(`roll back to: ${plan.target}`);
  out.line('reverts, newest first:');
  for (const r of plan.revert) {
    out.line(`  ${r.revision}  [${r.risk}]  ${r.description}`);
    if (r.rollbackPlan) out.line(`    rollback plan: ${r.rollbackPlan}`);
  }
  out.line('');
  out.line(plan.sql.trimEnd());
  out.line('');
}

async function promptOnTerminal(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/**
 * The manual rollback from a shell: invokes the deployed rollback function with a
 * dry run, shows the plan and its SQL, then asks for the target revision to be
 * typed before invoking again with `confirm`. `--yes` skips the question only
 * together with `--confirm REV` naming the same target.
 */
export function createInvokeRollbackCommand(deps: InvokeRollbackDeps = {}): Command {
  return {
    name: 'invoke rollback',
    summary: 'roll the deployed database back to REV through the rollback Lambda (dry run, then typed confirmation)',
    async run({ argv, stdout, stderr, env }: CommandContext): Promise<ExitCode> {
      let values;
      try {
        ({ values } = parseArgs({ args: normalize(argv), options, allowPositionals: false, strict: true }));
      } catch (error) {
        throw new ConfigError(`${(error as Error).message.replace(/\.$/, '')}\nusage: offpeak ${USAGE}`, { cause: error });
      }
      if (values.help) {
        stdout.write(`usage: offpeak ${USAGE}\n`);
        return ExitCode.ok;
      }
      const target = values.to;
      const functionName = values.function ?? env['OFFPEAK_ROLLBACK_FUNCTION'];
      if (!target) throw new ConfigError(`missing --to <REV|-1>\nusage: offpeak ${USAGE}`);
      if (!functionName) throw new ConfigError(`missing --function NAME (or OFFPEAK_ROLLBACK_FUNCTION); the stack output RollbackFunctionName has it\nusage: offpeak ${USAGE}`);
      if (values.yes && !values.confirm) throw new ConfigError('--yes needs --confirm REV naming the revision to roll back to');

      const out = createOutput({ stdout, stderr }, values.json ?? false);
      const region = values.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
      const client = deps.lambda?.(region) ?? new LambdaClient({ ...(region ? { region } : {}), requestHandler: { requestTimeout: INVOKE_TIMEOUT_MS } });

      const plan = await invoke(client, functionName, { target, dryRun: true });
      if (plan.status !== 'dry_run') throw new OffpeakError(`${functionName} did not return a dry-run plan (status ${plan.status})`);
      printPlan(out, plan);
      if (values['dry-run']) {
        out.result(plan);
        return ExitCode.ok;
      }

      let confirm: string;
      if (values.yes) {
        confirm = values.confirm!;
      } else {
        const interactive = deps.interactive ?? Boolean(process.stdin.isTTY);
        if (!interactive) throw new ConfigError('not at a terminal: pass --yes --confirm REV to roll back without the question');
        confirm = (await (deps.ask ?? promptOnTerminal)(`Type ${plan.target} to roll back ${plan.revert.length} migration(s): `)).trim();
      }
      if (confirm !== plan.target) {
        out.note(`"${confirm}" is not ${plan.target}: nothing was changed`);
        return ExitCode.usage;
      }

      const result = await invoke(client, functionName, { target: plan.target, confirm });
      out.result({ plan, result });
      if (result.status === 'dry_run') throw new OffpeakError('the rollback function answered with a dry run to a confirmed request');
      if (result.status === 'rolled_back') {
        out.line(`rolled back to ${result.target}: reverted ${result.reverted.join(', ') || 'nothing'} (run ${result.runId})`);
        return ExitCode.ok;
      }
      out.line(`rollback ${result.status} after reverting ${result.reverted.join(', ') || 'nothing'}: run the same command again to resume (run ${result.runId})`);
      return result.status === 'window_closed' ? ExitCode.outsideWindow : ExitCode.failed;
    },
  };
}

export const invokeRollbackCommand = createInvokeRollbackCommand();

import type { Command } from './command.ts';
import { startCommand } from './commands/start.ts';
import { currentCommand } from './commands/current.ts';
import { upgradeCommand } from './commands/upgrade.ts';
import { downgradeCommand } from './commands/downgrade.ts';
import { stampCommand } from './commands/stamp.ts';
import { headsCommand } from './commands/heads.ts';
import { historyCommand } from './commands/history.ts';
import { showCommand } from './commands/show.ts';
import { newCommand } from './commands/new.ts';
import { checkCommand } from './commands/check.ts';
import { lintCommand } from './commands/lint.ts';
import { squashCommand } from './commands/squash.ts';
import { dataApiServeCommand } from './commands/data-api-serve.ts';
import { analyzeCommand } from './commands/analyze.ts';
import { snapshotCommand } from './commands/snapshot.ts';
import { reportCommand } from './commands/report.ts';

/** Every verb of the CLI. Add a command file under commands/ and list it here. */
export const commands: Command[] = [
  startCommand,
  currentCommand,
  upgradeCommand,
  downgradeCommand,
  stampCommand,
  headsCommand,
  historyCommand,
  showCommand,
  newCommand,
  checkCommand,
  lintCommand,
  squashCommand,
  dataApiServeCommand,
  analyzeCommand,
  snapshotCommand,
  reportCommand,
];

import type { Command } from './command.ts';
import { startCommand } from './commands/start.ts';

/** Every verb of the CLI. Add a command file under commands/ and list it here. */
export const commands: Command[] = [startCommand];

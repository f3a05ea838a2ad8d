import type { Command } from '../command.ts';
import { runMigrateVerb } from '../migrate-verb.ts';

export const upgradeCommand: Command = {
  name: 'upgrade',
  summary: 'apply migrations up to head, REV or +N (--sql previews and changes nothing)',
  run: (context) => runMigrateVerb(context, 'up'),
};

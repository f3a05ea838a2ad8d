import type { Command } from '../command.ts';
import { runMigrateVerb } from '../migrate-verb.ts';

export const downgradeCommand: Command = {
  name: 'downgrade',
  summary: 'revert migrations down to REV, -N or base (--sql previews and changes nothing)',
  run: (context) => runMigrateVerb(context, 'down'),
};

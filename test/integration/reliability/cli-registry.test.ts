import { describe, expect, it } from 'vitest';
import { commands } from '../../../scripts/cli/registry.ts';
import { runCli } from '../../support/cli.ts';

describe('lazy CLI registry', () => {
  it('lists the same name and summary as the command each entry loads', async () => {
    // Prepare / Act
    const loaded = await Promise.all(commands.map(async (entry) => ({ entry, command: await entry.load() })));

    // Assess: the listing (shown by --help without importing anything) cannot drift from the commands themselves
    for (const { entry, command } of loaded) {
      expect({ name: command.name, summary: command.summary }).toEqual({ name: entry.name, summary: entry.summary });
    }
    expect(new Set(commands.map((c) => c.name)).size).toBe(commands.length);
  });

  it('--help lists every verb', async () => {
    // Act
    const run = await runCli(['--help']);

    // Assess
    expect(run.code).toBe(0);
    for (const entry of commands) expect(run.stdout).toContain(`  ${entry.name.padEnd(18)} ${entry.summary}`);
  });
});

import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { openTarget, resolveTarget } from '../target.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';

/** The main job on the embedded database. Until the engine lands it opens the database and shows what it has. */
export const startCommand: Command = {
  name: 'start',
  summary: 'run the off-peak job on the embedded database',
  async run({ stdout, env, cwd }) {
    const client = await openTarget(resolveTarget({}, { ...env, DATABASE_URL: undefined }, cwd));
    try {
      await client.query(sql`CREATE EXTENSION IF NOT EXISTS vector`);
      const { rows } = await client.query<{ version: string }>(sql`SELECT version() AS version`);
      const ext = await client.query<{ extname: string; extversion: string }>(
        sql`SELECT extname, extversion FROM pg_extension ORDER BY extname`,
      );
      stdout.write(`${rows[0]?.version}\n`);
      for (const e of ext.rows) stdout.write(`extension ${e.extname} ${e.extversion}\n`);
      return ExitCode.ok;
    } finally {
      await client.close();
    }
  },
};

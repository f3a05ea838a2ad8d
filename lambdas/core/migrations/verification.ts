/**
 * Verification at the end of a run: ANALYZE every table its migrations touched (index steps know their
 * table, SQL steps declare `tables`), then check every index the run built or dropped: what it built
 * exists and is valid, what it dropped is gone. A missing or invalid built index, or a dropped one that
 * exists again, fails the run. Skipped steps (unmet conditions) count for neither. An index a later SQL
 * step of the run names is not checked: its SQL may rebuild or drop it, which offpeak cannot tell.
 */
import { runToEnd } from '../db/follow.ts';
import { sql, SqlQuery } from '../db/sql.ts';
import { stepTables, unitSteps, type Plan } from './planner.ts';
import type { RunContext } from './run-context.ts';
import type { Direction } from './ledger.ts';
import { qualified } from './standalone.ts';
import { indexProblem, type IndexCheck } from './index-check.ts';

export interface SkippedStep {
  revision: string;
  direction: Direction;
  step: number;
  reason: string;
}

export interface Verification {
  /** 'schema.table' for every table ANALYZEd. */
  analyzed: string[];
  indexes: IndexCheck[];
  ok: boolean;
}

/**
 * ANALYZEs the run's tables one at a time, each followed to its end (`runToEnd`) before the next starts, even
 * past its Data API call, and counted as analyzed only once finished; then checks the indexes. 'deadline' when
 * the deadline nears while an ANALYZE still runs: the next call follows it instead of starting it again.
 */
export async function verifyRun(rc: RunContext, runId: string, plan: Plan, skipped: SkippedStep[], options: { deadline?: Date | undefined } = {}): Promise<Verification | 'deadline'> {
  const { client, graph } = rc;
  const isSkipped = new Set(skipped.map((s) => `${s.revision}:${s.direction}:${s.step}`));
  const tables = new Map<string, [string, string]>();
  // The last index step on a name decides what it should be; a later SQL step naming it makes that unknown.
  const indexes = new Map<string, { schema: string; name: string; expected: IndexCheck['expected'] }>();
  for (const unit of plan.units) {
    if (unit.kind === 'record') continue;
    for (const { index, step } of unitSteps(graph, unit)) {
      if (isSkipped.has(`${unit.revision}:${unit.direction}:${index}`)) continue;
      for (const t of stepTables(step)) tables.set(`${t[0]}.${t[1]}`, t);
      if (step.kind === 'sql') {
        for (const [key, ix] of indexes) if (step.sql.includes(ix.name)) indexes.delete(key);
        continue;
      }
      const key = `${step.index.schema}.${step.index.name}`;
      indexes.set(key, { schema: step.index.schema, name: step.index.name, expected: step.kind === 'create_index' ? 'valid' : 'absent' });
    }
  }
  if (tables.size === 0 && indexes.size === 0) return { analyzed: [], indexes: [], ok: true };

  const existing = tables.size
    ? (
        await client.query<{ s: string; t: string }>(sql`
          SELECT x.s, x.t FROM jsonb_to_recordset(${sql.json([...tables.values()].map(([s, t]) => ({ s, t })))}::jsonb) AS x(s text, t text)
          JOIN pg_namespace n ON n.nspname = x.s JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.t AND c.relkind IN ('r', 'p', 'm')`)
      ).rows
    : [];
  const analyzed: string[] = [];
  if (existing.length) {
    const t0 = rc.nowMs();
    for (const r of existing) {
      const ended = await runToEnd(client, new SqlQuery([`ANALYZE ${qualified(r.s, r.t)}`]), {
        deadline: options.deadline,
        now: rc.now,
        sleep: rc.sleep,
        pollIntervalMs: rc.pollIntervalMs,
      });
      if (ended === 'deadline') return 'deadline';
      analyzed.push(`${r.s}.${r.t}`);
    }
    rc.emit({ event: 'analyzed', runId, tables: analyzed, durationMs: rc.nowMs() - t0 });
  }
  const checks = indexes.size
    ? (
        await client.query<IndexCheck>(sql`
          SELECT x.schema, x.name, x.expected, c.oid IS NOT NULL AS exists, coalesce(i.indisvalid, false) AS valid
          FROM jsonb_to_recordset(${sql.json([...indexes.values()])}::jsonb) AS x(schema text, name text, expected text)
          LEFT JOIN pg_namespace n ON n.nspname = x.schema
          LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.name
          LEFT JOIN pg_index i ON i.indexrelid = c.oid
          ORDER BY x.schema, x.name`)
      ).rows
    : [];
  return { analyzed, indexes: checks, ok: checks.every((c) => indexProblem(c) === null) };
}

/**
 * Rehearsal: the plan run on a copy of the database (a local `CREATE DATABASE … TEMPLATE`, or an Aurora clone),
 * timed per unit, and what it measured kept in the source's ledger so that pre-flight estimates build times from
 * this target's own rates. The copy is made and dropped by the caller (the CLI, the state machine); this room
 * only times and records.
 */
import type { SqlClient } from '../db/client.ts';
import { sql } from '../db/sql.ts';
import type { MigrationEvent, MigrationEventListener } from './events.ts';
import { DEFAULT_LEDGER_SCHEMA, Ledger } from './ledger.ts';
import { recordBuildSample } from '../preflight/calibration.ts';

/** One unit of the plan as the rehearsal saw it run: a transactional migration (step null) or one standalone step. */
export interface UnitTiming {
  revision: string;
  /** The step (0-based) of a standalone unit; null for a migration that ran in one transaction. */
  step: number | null;
  description: string;
  durationMs: number;
}

/**
 * Collects per-unit durations from the runner's events. A transactional migration is one unit (its
 * `migration_done` duration); a standalone step is one (its `step_done` duration). Chained onto another
 * listener (the progress lines) with `next`.
 */
export function unitTimer(next?: MigrationEventListener): MigrationEventListener & { readonly units: readonly UnitTiming[] } {
  const units: UnitTiming[] = [];
  /** Per revision: its description, whether its steps ran standalone, and the step descriptions. */
  const seen = new Map<string, { description: string; standalone: boolean; steps: Map<number, string> }>();
  const listener = (e: MigrationEvent) => {
    switch (e.event) {
      case 'migration_started':
        seen.set(e.revision, { description: e.description, standalone: false, steps: new Map() });
        break;
      case 'step_started': {
        const m = seen.get(e.revision);
        if (m) {
          m.steps.set(e.step, e.description);
          if (e.mode === 'standalone') m.standalone = true;
        }
        break;
      }
      case 'step_done': {
        const m = seen.get(e.revision);
        if (m?.standalone) units.push({ revision: e.revision, step: e.step, description: m.steps.get(e.step) ?? `step ${e.step + 1}`, durationMs: e.durationMs });
        break;
      }
      case 'migration_done': {
        const m = seen.get(e.revision);
        if (m && !m.standalone) units.push({ revision: e.revision, step: null, description: m.description, durationMs: e.durationMs });
        break;
      }
      default:
        break;
    }
    next?.(e);
  };
  return Object.assign(listener, { units });
}

/** The whole plan's time as rehearsed, and whether it fits a window of `windowMinutes`. */
export function rehearsalFit(units: readonly UnitTiming[], windowMinutes: number | undefined): { totalMs: number; window: null | { minutes: number; fits: boolean } } {
  const totalMs = units.reduce((sum, u) => sum + u.durationMs, 0);
  return { totalMs, window: windowMinutes === undefined ? null : { minutes: windowMinutes, fits: totalMs <= windowMinutes * 60_000 } };
}

/**
 * A copy carries the source's lease row. Its holder is a run on the source, or long gone; either way it is not
 * running on the copy, which this rehearsal alone uses, so the row is removed before the copy's run takes the lease.
 */
export async function clearCopiedLease(copy: SqlClient, schema = DEFAULT_LEDGER_SCHEMA): Promise<void> {
  const ledger = new Ledger(copy, schema);
  if (!(await ledger.exists())) return;
  await copy.query(sql`DELETE FROM ${ledger.table('lease')}`);
}

/** An index build the rehearsal's run measured on the copy: pre-flight's rate for its access method. */
export interface RehearsedBuild {
  accessMethod: string;
  bytes: number;
  seconds: number;
  indexName: string | null;
  tableName: string | null;
}

/** The build samples the copy's run left in the copy's ledger (the runner writes one per index build it saw run). */
export async function rehearsedBuilds(copy: SqlClient, runId: string, schema = DEFAULT_LEDGER_SCHEMA): Promise<RehearsedBuild[]> {
  const ledger = new Ledger(copy, schema);
  if (!(await ledger.exists())) return [];
  const { rows } = await copy.query<{ access_method: string; bytes: number; seconds: number; index_name: string | null; table_name: string | null }>(
    sql`SELECT access_method, bytes, seconds, index_name, table_name FROM ${ledger.table('index_build_samples')} WHERE run_id = ${runId} ORDER BY id`,
  );
  return rows.map((r) => ({ accessMethod: r.access_method, bytes: Number(r.bytes), seconds: Number(r.seconds), indexName: r.index_name, tableName: r.table_name }));
}

/**
 * Copies the builds measured on the copy into the source's ledger as `rehearsal` samples (creating the ledger
 * there if it has none yet: pre-flight reads it from there). Returns how many were recorded.
 */
export async function recordRehearsalSamples(input: { copy: SqlClient; source: SqlClient; runId: string; schema?: string }): Promise<number> {
  const schema = input.schema ?? DEFAULT_LEDGER_SCHEMA;
  return recordRehearsedBuilds(input.source, await rehearsedBuilds(input.copy, input.runId, schema), input.runId, schema);
}

/** Records builds measured on a copy (by the run `runId` there) in the source's ledger as `rehearsal` samples. */
export async function recordRehearsedBuilds(source: SqlClient, builds: readonly RehearsedBuild[], runId: string, schema = DEFAULT_LEDGER_SCHEMA): Promise<number> {
  for (const b of builds) {
    await recordBuildSample(source, schema, {
      accessMethod: b.accessMethod,
      bytes: b.bytes,
      seconds: b.seconds,
      source: 'rehearsal',
      ...(b.indexName === null ? {} : { index: b.indexName }),
      ...(b.tableName === null ? {} : { table: b.tableName }),
      runId,
    });
  }
  return builds.length;
}

/**
 * What a run on a copy applied, per migration, from the copy's ledger (where the caller saw no events: the
 * state machine's migrate function ran it): each migration's duration from its first step's start to its last
 * step's end, in the order applied.
 */
export async function rehearsedMigrations(copy: SqlClient, runId: string, schema = DEFAULT_LEDGER_SCHEMA): Promise<UnitTiming[]> {
  const ledger = new Ledger(copy, schema);
  if (!(await ledger.exists())) return [];
  return (await ledger.applied())
    .filter((r) => r.runId === runId && !r.recordedOnly)
    .sort((a, b) => a.appliedAt.getTime() - b.appliedAt.getTime())
    .map((r) => ({ revision: r.revision, step: null, description: r.description, durationMs: r.durationMs }));
}

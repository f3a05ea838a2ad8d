/**
 * Pre-flight: before a window run changes anything, estimate every index build the plan holds (bytes, sort
 * spill, seconds at this target's calibrated rate), fit the plan into the window, and refuse what cannot work:
 * a unit estimated to need more than a whole window (it would be cancelled at every close and never finish), or
 * builds that need more disk than is free.
 *
 * Units are the plan's index builds (`createIndex` steps, in plan order, up or down). Other steps are not
 * estimated (a warning counts them); a raw SQL `CREATE INDEX` is one of them: write it with `createIndex` to
 * have it estimated.
 */
import type { SqlExecutor } from '../db/client.ts';
import { DatabaseError, PreflightRefusedError } from '../errors.ts';
import { formatBytes } from '../health/checks.ts';
import type { MigrationGraph } from '../migrations/graph.ts';
import { unitSteps, type Plan } from '../migrations/planner.ts';
import type { CreateIndexStep } from '../migrations/model.ts';
import { calibratedRates, defaultRate, type BuildRate } from './calibration.ts';
import { estimateSize } from './layout.ts';
import { readIndex } from './statistics.ts';

export interface PreflightUnit {
  revision: string;
  step: number;
  /** The index's access method: btree, ivfflat, hnsw, gin, … */
  kind: string;
  index: string;
  /** schema.table */
  table: string;
  estimatedBytes: number;
  estimatedTempBytes: number;
  estimatedSeconds: number;
  calibrated: boolean;
}

export interface PreflightWindow {
  minutes: number;
  /** Every unit fits in this one window. */
  fits: boolean;
  /** How many units, in plan order, fit in this window; the rest roll to the next. */
  unitsThatFit: number;
}

/** The `--json` document, exactly. */
export interface PreflightReport {
  units: PreflightUnit[];
  totalBytes: number;
  totalSeconds: number;
  window: PreflightWindow | null;
  warnings: string[];
}

export interface PreflightRefusal {
  revision: string;
  step: number;
  index: string;
  reason: 'longer_than_window' | 'not_enough_disk';
  message: string;
}

export interface PreflightResult {
  report: PreflightReport;
  refusals: PreflightRefusal[];
}

export interface PreflightOptions {
  client: SqlExecutor;
  graph: MigrationGraph;
  plan: Plan;
  /** The ledger schema (calibration samples). */
  schema: string;
  /** The window's length; without it, nothing is fitted or refused for time. */
  windowMinutes?: number | undefined;
  /** Free disk for the builds (index bytes + the largest sort spill); undefined: unknown. */
  freeBytes?: number | undefined;
  /** What freeBytes measures, for messages (e.g. "--free-bytes", "FreeLocalStorage"). */
  freeBytesSource?: string;
  /** The warning when freeBytes is undefined (why it is unknown); the default points at --free-bytes. */
  freeBytesUnknown?: string;
}

function indexSteps(graph: MigrationGraph, plan: Plan): { builds: Array<{ revision: string; step: number; spec: CreateIndexStep }>; others: number } {
  const builds: Array<{ revision: string; step: number; spec: CreateIndexStep }> = [];
  let others = 0;
  for (const unit of plan.units) {
    for (const { index, step } of unitSteps(graph, unit)) {
      if (step.kind === 'create_index') builds.push({ revision: unit.revision, step: index, spec: step });
      else others++;
    }
  }
  return { builds, others };
}

export const formatSeconds = (s: number): string =>
  s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Number((s / 60).toFixed(1))} min` : `${Number((s / 3600).toFixed(1))} h`;

/** Which units fit in a window of `minutes`, in plan order: the first unit whose running total passes the window and all after it roll over. */
export function fitWindow(units: readonly Pick<PreflightUnit, 'estimatedSeconds'>[], minutes: number): PreflightWindow {
  let total = 0;
  let unitsThatFit = 0;
  for (const u of units) {
    total += u.estimatedSeconds;
    if (total > minutes * 60) break;
    unitsThatFit++;
  }
  return { minutes, fits: unitsThatFit === units.length, unitsThatFit };
}

/** Estimates the plan's index builds and checks them against the window and the free disk. Reads only. */
export async function preflight(options: PreflightOptions): Promise<PreflightResult> {
  const { client, graph, plan } = options;
  const warnings: string[] = [];
  const { builds, others } = indexSteps(graph, plan);
  const rates = builds.length ? await calibratedRates(client, options.schema) : new Map<string, BuildRate>();
  const units: PreflightUnit[] = [];
  /** Units whose estimate is only an upper bound (compressed entries): never refused for time on it. */
  const upperBounds = new Set<PreflightUnit>();
  for (const { revision, step, spec } of builds) {
    const where = `${revision} step ${step + 1} (${spec.index.name})`; // people count steps from 1, as upgrade and runs print them
    let reading: Awaited<ReturnType<typeof readIndex>>;
    try {
      reading = await readIndex(client, spec);
    } catch (error) {
      // An estimate the database cannot make (an expression it refuses outside the index) is no reason to stop: say so.
      if (!(error instanceof DatabaseError)) throw error;
      warnings.push(`${where}: could not be estimated (${error.message}); it is left out of the totals`);
      continue;
    }
    warnings.push(...reading.warnings);
    if (reading.tableMissing) warnings.push(`${where}: table ${spec.index.schema}.${spec.index.table} does not exist yet (an earlier unit makes it): estimated as empty`);
    if (reading.alreadyBuilt) warnings.push(`${where}: the index already exists and is valid: nothing to build`);
    const size = reading.tableMissing || reading.alreadyBuilt ? { bytes: 0, tempBytes: 0, notes: [] } : estimateSize(reading.shape, reading.maintenanceWorkMem);
    for (const note of size.notes) warnings.push(`${where}: ${note}`);
    if (size.tempBytes > 0) {
      warnings.push(`${where}: its sort spills about ${formatBytes(size.tempBytes)} to temporary files (maintenance_work_mem is ${formatBytes(reading.maintenanceWorkMem)})`);
    }
    const rate = rates.get(reading.shape.accessMethod) ?? defaultRate(reading.shape.accessMethod);
    const unit: PreflightUnit = {
      revision,
      step,
      kind: reading.shape.accessMethod,
      index: `${spec.index.schema}.${spec.index.name}`,
      table: `${spec.index.schema}.${spec.index.table}`,
      estimatedBytes: Math.round(size.bytes),
      estimatedTempBytes: Math.round(size.tempBytes),
      estimatedSeconds: Math.round((size.bytes / rate.bytesPerSecond) * 10) / 10,
      calibrated: rate.calibrated,
    };
    units.push(unit);
    if (size.upperBound) upperBounds.add(unit);
  }
  if (units.some((u) => !u.calibrated)) {
    const methods = [...new Set(units.filter((u) => !u.calibrated).map((u) => u.kind))];
    warnings.push(`no build history on this target for ${methods.join(', ')}: seconds use conservative default rates (calibrated: false); a run or a rehearsal calibrates them`);
  }
  if (others > 0) warnings.push(`${others} other step(s) (SQL, drops) are not estimated`);

  const totalBytes = units.reduce((s, u) => s + u.estimatedBytes, 0);
  const totalSeconds = Math.round(units.reduce((s, u) => s + u.estimatedSeconds, 0) * 10) / 10;
  const refusals: PreflightRefusal[] = [];
  let window: PreflightWindow | null = null;
  if (options.windowMinutes !== undefined) {
    window = fitWindow(units, options.windowMinutes);
    const windowSeconds = options.windowMinutes * 60;
    for (const u of units) {
      if (u.estimatedSeconds <= windowSeconds) continue;
      if (upperBounds.has(u)) {
        // Refusing on an upper bound would stop a window run over a build that may take seconds: say it instead.
        warnings.push(
          `${u.revision} step ${u.step + 1}: index ${u.index} may not fit the ${options.windowMinutes}-minute window: its upper bound is ${formatBytes(u.estimatedBytes)} and ` +
            `${formatSeconds(u.estimatedSeconds)}; rehearse it (offpeak rehearse) to measure the real build`,
        );
        continue;
      }
      const message =
        `${u.revision} step ${u.step + 1}: index ${u.index} (${u.kind}) on ${u.table} is estimated at ${formatBytes(u.estimatedBytes)} and ` +
        `${formatSeconds(u.estimatedSeconds)}${u.calibrated ? '' : ' (default rate, not calibrated)'}, longer than the whole ${options.windowMinutes}-minute window: ` +
        `it would be cancelled at every close and never finish. Widen the window to at least ${Math.ceil((u.estimatedSeconds * 1.25) / 60)} minutes, ` +
        `or build it by hand outside the window (CREATE INDEX CONCURRENTLY, then offpeak runs it as a no-op)`;
      refusals.push({ revision: u.revision, step: u.step, index: u.index, reason: 'longer_than_window', message });
    }
    if (!window.fits && window.unitsThatFit < units.length) {
      const rolled = units.slice(window.unitsThatFit).map((u) => u.index);
      warnings.push(`${window.unitsThatFit} of ${units.length} build(s) fit this window; ${rolled.join(', ')} roll to the next window`);
    }
  }
  const largestSpill = units.reduce((m, u) => Math.max(m, u.estimatedTempBytes), 0);
  if (options.freeBytes === undefined) {
    warnings.push(options.freeBytesUnknown ?? 'free space: unknown (pass --free-bytes N to check the builds against it)');
  } else {
    const need = totalBytes + largestSpill;
    if (need > options.freeBytes) {
      const biggest = [...units].sort((a, b) => b.estimatedBytes + b.estimatedTempBytes - (a.estimatedBytes + a.estimatedTempBytes))[0]!;
      refusals.push({
        revision: biggest.revision,
        step: biggest.step,
        index: biggest.index,
        reason: 'not_enough_disk',
        message:
          `the builds need about ${formatBytes(need)} (${formatBytes(totalBytes)} of indexes + ${formatBytes(largestSpill)} of the largest sort spill), ` +
          `more than the ${formatBytes(options.freeBytes)} free (${options.freeBytesSource ?? 'free bytes'}): free disk, raise maintenance_work_mem to spill less, or split the migration`,
      });
    }
  }
  for (const r of refusals) warnings.push(`refused: ${r.message}`);
  // Several indexes on one table read the same columns: say each thing once.
  return { report: { units, totalBytes, totalSeconds, window, warnings: [...new Set(warnings)] }, refusals };
}

/** The refusal as one error for a window run's first state: nothing has changed yet; the message has the numbers and the fix. */
export function refusalError(result: PreflightResult): PreflightRefusedError | undefined {
  if (!result.refusals.length) return undefined;
  const { report, refusals } = result;
  return new PreflightRefusedError(`pre-flight refused the run before any change: ${refusals.map((r) => r.message).join('; ')}`, {
    context: {
      refusals: refusals.map(({ revision, step, index, reason }) => ({ revision, step, index, reason })),
      totalBytes: report.totalBytes,
      totalSeconds: report.totalSeconds,
      window: report.window,
    },
  });
}

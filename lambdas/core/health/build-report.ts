import type { SqlClient, SqlExecutor } from '../db/client.ts';
import { readContext, readIndexes, readTables } from './catalog.ts';
import { monitoringViews, runChecksWithAdvice } from './checks.ts';
import { planRegressionFindings } from './plan-regression.ts';
import { resolveHealthOptions, type HealthOptions } from './options.ts';
import type { IndexHealthReport } from './report.ts';

export interface BuildReportInput {
  client: SqlExecutor;
  /** The ledger schema holding snapshots; overrides `options.ledgerSchema`. */
  schema?: string | undefined;
  options?: Partial<HealthOptions> | undefined;
  now?: Date | undefined;
}

export interface BuiltReport {
  report: IndexHealthReport;
  /** Statements sent: 1 context + the table pages + the index pages. */
  roundTrips: number;
  /** Names of the indexes without a usage verdict yet (counted in `report.pending`). */
  pendingIndexes: string[];
}

/**
 * Builds the nightly report with a handful of statements (context, tables, indexes;
 * more pages only for very large catalogs). Read-only: it never creates the ledger.
 */
export async function buildIndexHealthReportWithStats(input: BuildReportInput): Promise<BuiltReport> {
  const options = resolveHealthOptions({ ...input.options, ledgerSchema: input.schema ?? input.options?.ledgerSchema });
  const now = input.now ?? new Date();
  const page = { pageRows: options.pageRows, pageBytes: options.pageBytes };
  const context = await readContext(input.client, options.ledgerSchema);
  const { tables, roundTrips: tableTrips } = await readTables(input.client, context, options.ledgerSchema, page);
  const { indexes, roundTrips: indexTrips } = await readIndexes(
    input.client,
    {
      context,
      ledgerSchema: options.ledgerSchema,
      dropPrefix: options.dropPrefix,
      bloatMinBytes: options.bloatMinBytes,
      baselineCutoff: Math.floor(now.getTime() / 1000) - options.unusedDays * 86_400,
    },
    page,
  );
  const checkInput = { tables, indexes, options, statsResetAt: context.statsResetAt, blockSize: context.blockSize, now };
  const checked = runChecksWithAdvice(checkInput);
  const { pending } = checked;
  // Plan expectations need a transaction (SET LOCAL): a client that has none (a bare executor) skips them.
  const regressions = canTransact(input.client) ? await planRegressionFindings(input.client, options.ledgerSchema) : [];
  const findings = [...checked.findings, ...regressions];
  const days = options.unusedDays * 86_400;
  const reset = context.statsResetAt ? Math.floor(context.statsResetAt.getTime() / 1000) : -1;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  // The earliest an index without a verdict can get one: a full window after its history (or the last reset) began.
  const firstVerdict = pending.reduce((min, i) => Math.min(min, Math.max(i.historyStartAt < 0 ? nowSeconds : i.historyStartAt, reset) + days), Infinity);
  const { usage, unusedBySize, usageTotal, unusedTotal } = monitoringViews(checkInput);
  // The views are capped at viewLimit; the rows cut still count, as `omitted` (see report.ts).
  const cut = { usageRows: usageTotal - usage.length, unusedRows: unusedTotal - unusedBySize.length };
  const historyStart = indexes.reduce((min, i) => (i.historyStartAt >= 0 && i.historyStartAt < min ? i.historyStartAt : min), Infinity);
  return {
    report: {
      generatedAt: now,
      database: context.database,
      statsResetAt: context.statsResetAt,
      writerOnly: true,
      historyDays: historyStart === Infinity ? 0 : Math.max(0, Math.floor((now.getTime() / 1000 - historyStart) / 86_400)),
      historyStartedAt: historyStart === Infinity ? null : new Date(historyStart * 1000),
      ...(pending.length > 0 ? { pending: { indexes: pending.length, firstVerdictAt: firstVerdict === Infinity ? null : new Date(firstVerdict * 1000) } } : {}),
      findings,
      usage,
      unusedBySize,
      ...(cut.usageRows > 0 || cut.unusedRows > 0 ? { omitted: { findings: 0, bySeverity: {}, byKind: {}, ...cut } } : {}),
    },
    roundTrips: 1 + tableTrips + indexTrips,
    pendingIndexes: pending.map((i) => i.name),
  };
}

const canTransact = (client: SqlExecutor): client is SqlClient => typeof (client as Partial<SqlClient>).transaction === 'function';

export async function buildIndexHealthReport(input: BuildReportInput): Promise<IndexHealthReport> {
  return (await buildIndexHealthReportWithStats(input)).report;
}

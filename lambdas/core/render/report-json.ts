/**
 * The report as JSON, for CLI `--format json`, the SNS `lambda` and `https` bodies,
 * and the slack-notify Lambda, which rebuilds the report with `parseReportJson` and
 * renders Slack from it. Under a byte budget it keeps the head of the findings and
 * says what it cut in `truncated`, so the rebuilt report still counts everything.
 */
import * as z from 'zod';
import { FINDING_KINDS, SEVERITIES, type FindingKind, type IndexHealthReport, type IndexUsageRow, type OmittedFindings, type Severity } from '../health/report.ts';
import { ValidationError } from '../errors.ts';
import { adviceSection } from './advice.ts';
import { utf8Cost, type CostFunction } from './text-budget.ts';


const count = z.number().int().nonnegative();
const usageRowSchema = z.object({
  schema: z.string(),
  table: z.string(),
  index: z.string(),
  idxScan: count,
  idxTupRead: count,
  idxTupFetch: count,
  sizeBytes: count,
});
const findingSchema = z.object({
  kind: z.enum(FINDING_KINDS),
  severity: z.enum(SEVERITIES),
  schema: z.string(),
  table: z.string(),
  index: z.string().nullable(),
  sizeBytes: count.nullable(),
  evidence: z.string(),
  suggestion: z.object({ drop: z.string().min(1), restore: z.string().min(1), afterwards: z.string().optional() }).nullable(),
});
const truncatedSchema = z.object({
  omitted: count,
  omittedBySeverity: z.partialRecord(z.enum(SEVERITIES), count),
  omittedByKind: z.partialRecord(z.enum(FINDING_KINDS), count),
  usageOmitted: count,
  unusedOmitted: count,
});

/** The wire shape; field names are the issue's (`generatedAt`, `sizeBytes`, …). */
export const reportJsonSchema = z.object({
  generatedAt: z.iso.datetime({ offset: true }),
  database: z.string(),
  statsResetAt: z.iso.datetime({ offset: true }).nullable(),
  writerOnly: z.literal(true),
  historyDays: z.number().nonnegative(),
  historyStartedAt: z.iso.datetime({ offset: true }).nullable().optional(),
  pending: z.object({ indexes: count, firstVerdictAt: z.iso.datetime({ offset: true }).nullable() }).optional(),
  findings: z.array(findingSchema),
  usage: z.array(usageRowSchema),
  unusedBySize: z.array(usageRowSchema),
  truncated: truncatedSchema.optional(),
  /** The advice as a whole (render/advice.ts), written only when nothing is cut; derived from the findings on parse. */
  advice: z.object({ drop: z.array(z.string()), restore: z.array(z.string()), afterwards: z.array(z.string()) }).optional(),
});

export type ReportJson = z.infer<typeof reportJsonSchema>;
type FindingJson = z.infer<typeof findingSchema>;
type UsageRowJson = z.infer<typeof usageRowSchema>;

export interface ReportJsonOptions {
  /** Without a budget nothing is cut (the CLI); with one, findings are cut to fit. */
  maxBytes?: number;
  /** How the output is measured; `jsonStringCost` when it is nested in an SNS envelope. */
  cost?: CostFunction;
  /** Under a budget, rows kept per monitoring view. Default 50. */
  tableRows?: number;
}

const DEFAULT_BUDGET_TABLE_ROWS = 50;

export function renderJson(report: IndexHealthReport, options: ReportJsonOptions = {}): string {
  const findings = report.findings.map(findingJson);
  const usage = report.usage.map(usageJson);
  const unusedBySize = report.unusedBySize.map(usageJson);
  const base = {
    generatedAt: report.generatedAt.toISOString(),
    database: report.database,
    statsResetAt: report.statsResetAt === null ? null : report.statsResetAt.toISOString(),
    writerOnly: true as const,
    historyDays: report.historyDays,
    ...(report.historyStartedAt === undefined ? {} : { historyStartedAt: report.historyStartedAt?.toISOString() ?? null }),
    ...(report.pending === undefined ? {} : {
      pending: { indexes: report.pending.indexes, firstVerdictAt: report.pending.firstVerdictAt?.toISOString() ?? null },
    }),
  };
  if (options.maxBytes === undefined) {
    const advice = adviceSection(report.findings);
    return JSON.stringify({
      ...base, findings, usage, unusedBySize, ...carriedOver(report),
      ...(advice.drop.length > 0 ? { advice: { drop: advice.drop, restore: advice.restore, afterwards: advice.afterwards } } : {}),
    });
  }

  const { maxBytes } = options;
  const cost = options.cost ?? utf8Cost;
  // Reserve `truncated` at its largest: every finding and row omitted.
  const worst = truncatedFrom(report, 0, 0, 0);
  for (const rows of [options.tableRows ?? DEFAULT_BUDGET_TABLE_ROWS, 10, 0]) {
    const keptUsage = usage.slice(0, rows);
    const keptUnused = unusedBySize.slice(0, rows);
    let used = cost(JSON.stringify({ ...base, findings: [], usage: keptUsage, unusedBySize: keptUnused, truncated: worst }));
    if (used > maxBytes) continue;
    let kept = 0;
    for (const finding of findings) {
      const c = cost(JSON.stringify(finding)) + 1;
      if (used + c > maxBytes) break;
      used += c;
      kept += 1;
    }
    const truncated = truncatedFrom(report, kept, keptUsage.length, keptUnused.length);
    return JSON.stringify({
      ...base,
      findings: findings.slice(0, kept),
      usage: keptUsage,
      unusedBySize: keptUnused,
      ...(truncated === undefined ? {} : { truncated }),
    });
  }
  throw new ValidationError(`report JSON budget of ${maxBytes} bytes cannot hold even the report header`, { context: { maxBytes } });
}

/** Rebuilds the report from `renderJson` output, e.g. the SNS `lambda` body in slack-notify. */
export function parseReportJson(text: string): IndexHealthReport {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`report JSON is not valid JSON (${(error as Error).message}); expected the output of renderJson`, { cause: error });
  }
  const parsed = reportJsonSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ValidationError(`report JSON does not have the IndexHealthReport shape:\n${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
      context: { issues: parsed.error.issues.slice(0, 10).map((issue) => ({ path: issue.path.join('.'), message: issue.message })) },
    });
  }
  const json = parsed.data;
  const report: IndexHealthReport = {
    generatedAt: new Date(json.generatedAt),
    database: json.database,
    statsResetAt: json.statsResetAt === null ? null : new Date(json.statsResetAt),
    writerOnly: true,
    historyDays: json.historyDays,
    ...(json.historyStartedAt === undefined ? {} : { historyStartedAt: json.historyStartedAt === null ? null : new Date(json.historyStartedAt) }),
    ...(json.pending === undefined ? {} : {
      pending: { indexes: json.pending.indexes, firstVerdictAt: json.pending.firstVerdictAt === null ? null : new Date(json.pending.firstVerdictAt) },
    }),
    findings: json.findings.map((f) => ({ ...f, suggestion: f.suggestion === null ? null : { ...f.suggestion } })),
    usage: json.usage.map((row) => ({ ...row })),
    unusedBySize: json.unusedBySize.map((row) => ({ ...row })),
  };
  if (json.truncated) {
    const t = json.truncated;
    report.omitted = {
      findings: t.omitted,
      bySeverity: { ...t.omittedBySeverity },
      byKind: { ...t.omittedByKind },
      usageRows: t.usageOmitted,
      unusedRows: t.unusedOmitted,
    };
  }
  return report;
}

function findingJson(f: IndexHealthReport['findings'][number]): FindingJson {
  // Explicit fields, in the issue's order, so a field added to the model is a decision here.
  return {
    kind: f.kind,
    severity: f.severity,
    schema: f.schema,
    table: f.table,
    index: f.index,
    sizeBytes: f.sizeBytes,
    evidence: f.evidence,
    suggestion: f.suggestion === null ? null : {
      drop: f.suggestion.drop,
      restore: f.suggestion.restore,
      ...(f.suggestion.afterwards === undefined ? {} : { afterwards: f.suggestion.afterwards }),
    },
  };
}

function usageJson(row: IndexUsageRow): UsageRowJson {
  return {
    schema: row.schema,
    table: row.table,
    index: row.index,
    idxScan: row.idxScan,
    idxTupRead: row.idxTupRead,
    idxTupFetch: row.idxTupFetch,
    sizeBytes: row.sizeBytes,
  };
}

/** A report already rebuilt from truncated JSON keeps saying what was cut. */
function carriedOver(report: IndexHealthReport): { truncated?: ReportJson['truncated'] } {
  const truncated = truncatedFrom(report, report.findings.length, report.usage.length, report.unusedBySize.length);
  return truncated === undefined ? {} : { truncated };
}

/**
 * What is left out when only the first `kept` findings and rows are kept, plus what the
 * report had already lost. Keeping nothing gives the largest marker, used as the reserve.
 */
function truncatedFrom(report: IndexHealthReport, kept: number, usageKept: number, unusedKept: number): ReportJson['truncated'] {
  const before: OmittedFindings = report.omitted ?? { findings: 0, bySeverity: {}, byKind: {}, usageRows: 0, unusedRows: 0 };
  const bySeverity: Partial<Record<Severity, number>> = { ...before.bySeverity };
  const byKind: Partial<Record<FindingKind, number>> = { ...before.byKind };
  const cut = report.findings.slice(kept);
  for (const f of cut) {
    bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
    byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  }
  const omitted = before.findings + cut.length;
  const usageOmitted = before.usageRows + report.usage.length - usageKept;
  const unusedOmitted = before.unusedRows + report.unusedBySize.length - unusedKept;
  if (omitted === 0 && usageOmitted === 0 && unusedOmitted === 0) return undefined;
  return { omitted, omittedBySeverity: bySeverity, omittedByKind: byKind, usageOmitted, unusedOmitted };
}

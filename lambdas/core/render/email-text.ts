/**
 * The plain-text email: summary, findings by severity (with DROP and RESTORE
 * statements), the seed's two monitoring views as fixed-width tables, and the
 * writer-only caveat. It always fits its byte budget; when findings are cut, the
 * last line says how many.
 */
import type { Finding, IndexHealthReport, IndexUsageRow } from '../health/report.ts';
import { ValidationError } from '../errors.ts';
import { SNS_ENVELOPE_MARGIN_BYTES, SNS_MAX_MESSAGE_BYTES } from './limits.ts';
import { clip, formatCount, formatTimestamp, oneLine, prettySize, textTable, type Column } from './format.ts';
import {
  bySeverity,
  cutNotice,
  historyText,
  kindCounts,
  severityCounts,
  statsResetText,
  summarize,
  WRITER_ONLY_CAVEAT,
  type ReportSummary,
} from './summary.ts';
import { unusedColumns, usageColumns } from './usage-columns.ts';
import { adviceSection, type AdviceSection } from './advice.ts';
import { truncateToCost, utf8Cost, type CostFunction } from './text-budget.ts';

export interface EmailTextOptions {
  /**
   * Budget in bytes as measured by `cost`. Default: SNS's 262,144 minus an envelope margin.
   * `Infinity` means no limit (the CLI's terminal output); pass `tableRows: Infinity` too for whole views.
   */
  maxBytes?: number;
  /**
   * How a piece of text is measured: UTF-8 bytes by default; `jsonStringCost` when the
   * text will sit escaped inside an SNS `MessageStructure: 'json'` envelope.
   */
  cost?: CostFunction;
  /** Rows per monitoring table before "… and N more". Default 25. */
  tableRows?: number;
}

export const DEFAULT_EMAIL_MAX_BYTES = SNS_MAX_MESSAGE_BYTES - SNS_ENVELOPE_MARGIN_BYTES;
/** Below this even the summary and the cut notice may not fit; such a budget is a bug. */
export const MIN_EMAIL_BYTES = 2_048;
const DEFAULT_TABLE_ROWS = 25;
/** Evidence is one sentence; anything longer is a check gone wrong, not worth the budget. */
const MAX_EVIDENCE_CHARS = 2_000;
/** A clipped statement is dangerous to paste, so a too-long one is replaced, not cut. */
const MAX_STATEMENT_CHARS = 8_000;

const FINDINGS_HEADING = '\nFINDINGS BY SEVERITY\n\n';

export function renderEmailText(report: IndexHealthReport, options: EmailTextOptions = {}): string {
  const maxBytes = options.maxBytes ?? DEFAULT_EMAIL_MAX_BYTES;
  if (Number.isNaN(maxBytes) || maxBytes < MIN_EMAIL_BYTES) {
    throw new ValidationError(`email budget must be at least ${MIN_EMAIL_BYTES} bytes, got ${maxBytes}`, {
      context: { maxBytes },
    });
  }
  const cost = options.cost ?? utf8Cost;
  const summary = summarize(report);
  const head = headSection(report, summary);

  // The cut notice is reserved with the largest numbers it can show, so it always fits: "total more …
  // (0 of total shown" plus room for the shown count's digits (up to total's).
  const reserve = summary.total > 0 ? cost(`\n${cutNotice(summary.total, summary.total)}\n`) + cost(formatCount(summary.total)) : 0;
  let tail = '';
  for (const rows of [options.tableRows ?? DEFAULT_TABLE_ROWS, 10, 3, 0]) {
    tail = tablesSection(report, summary, rows) + caveatSection();
    if (cost(head) + cost(tail) + reserve <= maxBytes) break;
  }

  // The advice script goes first when it fits in half of what is left; otherwise a pointer to it.
  const section = adviceSection(report.findings);
  let advice = adviceText(section, true);
  if (cost(advice) > (maxBytes - cost(head) - cost(tail) - reserve) / 2) advice = adviceText(section, false);
  let used = cost(head) + cost(advice) + cost(tail) + reserve + cost(FINDINGS_HEADING);
  const shown: string[] = [];
  let shownCount = 0;
  let number = 0;
  outer: for (const [severity, group] of bySeverity(report.findings)) {
    const heading = `${severity.toUpperCase()} (${formatCount(summary.bySeverity[severity])})\n\n`;
    for (const [i, finding] of group.entries()) {
      number += 1;
      const block = (i === 0 ? heading : '') + findingBlock(finding, number);
      const blockCost = cost(block);
      if (used + blockCost > maxBytes) break outer;
      used += blockCost;
      shown.push(block);
      shownCount += 1;
    }
  }

  const findings = summary.total === 0
    ? '\nFINDINGS\n\nNo findings.\n'
    : `${FINDINGS_HEADING}${shown.join('')}`;
  const omitted = summary.total - shownCount;
  const notice = omitted > 0 ? `\n${cutNotice(omitted, summary.total)}\n` : '';
  const text = head + advice + findings + tail + notice;
  if (cost(text) <= maxBytes) return text;
  // Only reachable with a budget barely above the minimum: cut hard, keep the notice.
  const last = `\n${cutNotice(summary.total, summary.total)}\n`;
  return truncateToCost(head + findings + tail, maxBytes - cost(last), cost) + last;
}

function headSection(report: IndexHealthReport, summary: ReportSummary): string {
  // PostgreSQL names are at most 63 bytes; a longer one is not worth the budget
  const database = clip(oneLine(report.database), 200);
  const severities = severityCounts(summary);
  const lines = [
    `offpeak index health report: ${database}`,
    '',
    'SUMMARY',
    '',
    `  Findings:       ${formatCount(summary.total)}${severities.length > 0 ? ` (${severities.join(', ')})` : ''}`,
    `  By kind:        ${summary.byKind.length > 0 ? kindCounts(summary).join(', ') : 'none'}`,
    `  Database:       ${database}`,
    `  Generated at:   ${formatTimestamp(report.generatedAt)}`,
    `  Stats reset:    ${statsResetText(report)}`,
    `  Usage history:  ${historyText(report)}`,
    `  Counters from:  the writer instance only (see the note at the end)`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The advice section: every DROP (safe together), what serves each one's lookups afterwards, the restore script. */
function adviceText(section: AdviceSection, full: boolean): string {
  if (section.drop.length === 0) return '';
  const n = section.drop.length;
  const title = `\nADVICE: ${formatCount(n)} ${n === 1 ? 'index' : 'indexes'} to drop, computed together: applying all of them keeps every lookup used in the window and every foreign key indexed\n\n`;
  if (!full) return `${title}  The script is too long for this email: run \`offpeak report --format json\` (its "advice" field).\n`;
  return title + [
    ...section.afterwards.map((line) => `  ${oneLine(line)}`),
    '',
    '  Drop script:',
    ...section.drop.map((sql) => `    ${statement(sql)}`),
    '',
    '  Restore script (undo):',
    ...section.restore.map((sql) => `    ${statement(sql)}`),
  ].join('\n') + '\n';
}

function findingBlock(finding: Finding, number: number): string {
  const where = finding.index === null
    ? `${finding.schema}.${finding.table}`
    : `${finding.schema}.${finding.table} / ${finding.index}`;
  const size = finding.sizeBytes === null ? '' : ` (${prettySize(finding.sizeBytes)})`;
  const lines = [
    `  ${number}. [${finding.kind}] ${oneLine(where)}${size}`,
    `     ${clip(oneLine(finding.evidence), MAX_EVIDENCE_CHARS)}`,
  ];
  if (finding.suggestion) {
    lines.push(`     Drop:    ${statement(finding.suggestion.drop)}`);
    lines.push(`     Restore: ${statement(finding.suggestion.restore)}`);
  }
  return `${lines.join('\n')}\n\n`;
}

function statement(sql: string): string {
  const text = oneLine(sql).trim();
  const terminated = text.endsWith(';') ? text : `${text};`;
  return terminated.length <= MAX_STATEMENT_CHARS
    ? terminated
    : '(statement too long for email; take it from the JSON report)';
}

const usage = usageColumns(48, { withTable: true });
const unused = unusedColumns(48);

function tablesSection(report: IndexHealthReport, summary: ReportSummary, maxRows: number): string {
  return [
    table('INDEX USAGE: idx_ indexes by idx_tup_read', usage, report.usage, summary.usageTotal, maxRows),
    table('UNUSED INDEXES: idx_ indexes with idx_scan = 0, largest first', unused, report.unusedBySize, summary.unusedTotal, maxRows),
  ].join('');
}

function table(
  title: string,
  columns: readonly Column<IndexUsageRow>[],
  rows: readonly IndexUsageRow[],
  total: number,
  maxRows: number,
): string {
  const lines = ['', title, ''];
  if (total === 0) lines.push('  (none)');
  else if (maxRows === 0) lines.push(`  ${formatCount(total)} ${total === 1 ? 'index' : 'indexes'}, not listed to keep this email within its size limit`);
  else {
    const shown = rows.slice(0, maxRows);
    lines.push(...textTable(columns, shown).map((line) => `  ${line}`));
    if (total > shown.length) lines.push(`  … and ${formatCount(total - shown.length)} more ${total - shown.length === 1 ? 'index' : 'indexes'}`);
  }
  return `${lines.join('\n')}\n`;
}

function caveatSection(): string {
  return `\nNOTE\n\n${wrap(WRITER_ONLY_CAVEAT, 78).map((line) => `  ${line}`).join('\n')}\n`;
}

/** Greedy word wrap for prose (never for SQL, which must stay on one line to paste). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

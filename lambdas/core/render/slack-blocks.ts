/**
 * The Slack Block Kit message: a header, the summary as fields, the writer-only
 * caveat, findings packed into sections by severity, the top of the seed's two
 * monitoring views, and a closing line saying how much was cut. It stays within
 * 50 blocks, 3,000 characters per section text, 10 fields of 2,000 characters,
 * and well under the ~13k characters at which Slack answers `msg_blocks_too_long`.
 */
import type { Finding, IndexHealthReport, IndexUsageRow, Severity } from '../health/report.ts';
import { OffpeakError } from '../errors.ts';
import {
  SLACK_MAX_BLOCKS,
  SLACK_MAX_BLOCKS_JSON_CHARS,
  SLACK_MAX_FIELD_CHARS,
  SLACK_MAX_FIELDS,
  SLACK_MAX_HEADER_CHARS,
  SLACK_MAX_SECTION_CHARS,
} from './limits.ts';
import { clip, clipUnits, formatCount, formatTimestamp, oneLine, prettySize, textTable, type Column } from './format.ts';
import {
  bySeverity,
  cutNotice,
  historyText,
  kindCounts,
  statsResetText,
  summarize,
  WRITER_ONLY_CAVEAT,
  type ReportSummary,
} from './summary.ts';
import { renderSubject } from './subject.ts';
import { unusedColumns, usageColumns } from './usage-columns.ts';

export interface SlackText {
  type: 'mrkdwn';
  text: string;
}

export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: boolean } }
  | { type: 'section'; text: SlackText }
  | { type: 'section'; fields: SlackText[] }
  | { type: 'context'; elements: SlackText[] }
  | { type: 'divider' };

export interface SlackMessage {
  /** Notification and accessibility fallback; Slack shows blocks when present. */
  text: string;
  blocks: SlackBlock[];
}

/** Rows of each monitoring view shown in Slack; the email carries more. */
const SLACK_TABLE_ROWS = 8;
const MAX_EVIDENCE_CHARS = 300;
/** A DROP statement longer than this is left to the email rather than clipped (clipped SQL is unsafe to paste). */
const MAX_STATEMENT_CHARS = 400;

const SEVERITY_LABEL: Record<Severity, string> = {
  critical: ':red_circle: Critical',
  warning: ':large_orange_circle: Warning',
  info: ':large_blue_circle: Info',
};

/** Slack's three control characters in mrkdwn: https://api.slack.com/reference/surfaces/formatting#escaping */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Inline code; mrkdwn has no escape for a backtick inside code, so it becomes a quote. */
function code(text: string): string {
  return `\`${escapeSlack(oneLine(text).replace(/`/g, "'"))}\``;
}

const mrkdwn = (text: string): SlackText => ({ type: 'mrkdwn', text });
const section = (text: string): SlackBlock => ({ type: 'section', text: mrkdwn(text) });
/** Characters a block adds to the serialized `blocks` array (its JSON and a comma). */
const blockChars = (block: SlackBlock): number => JSON.stringify(block).length + 1;
/** Characters a piece of text adds inside a block's JSON string. */
const textChars = (text: string): number => JSON.stringify(text).length - 2;
const EMPTY_SECTION_CHARS = blockChars(section(''));

export function renderSlackBlocks(report: IndexHealthReport): SlackMessage {
  const summary = summarize(report);
  const head = headBlocks(report, summary);
  const tail = tableBlocks(report, summary);
  const worstNotice: SlackBlock = { type: 'context', elements: [mrkdwn(escapeSlack(cutNotice(summary.total, summary.total)))] };

  let blocksLeft = SLACK_MAX_BLOCKS - head.length - tail.length - 1;
  let charsLeft = SLACK_MAX_BLOCKS_JSON_CHARS - 2 - [...head, ...tail, worstNotice].reduce((n, b) => n + blockChars(b), 0);
  const findingBlocks: SlackBlock[] = [];
  let shown = 0;

  outer: for (const [severity, group] of bySeverity(report.findings)) {
    let text: string | null = null;
    const flush = (): void => {
      if (text !== null) findingBlocks.push(section(text));
      text = null;
    };
    for (const finding of group) {
      const line = findingLine(finding);
      let cost: number;
      let next: string;
      let opens = false;
      if (text === null) {
        next = `*${SEVERITY_LABEL[severity]} (${formatCount(summary.bySeverity[severity])})*\n${line}`;
        opens = true;
      } else if (text.length + 1 + line.length > SLACK_MAX_SECTION_CHARS) {
        next = line;
        opens = true;
      } else next = `${text}\n${line}`;
      if (opens) cost = EMPTY_SECTION_CHARS + textChars(next);
      else cost = textChars(`\n${line}`);
      if (cost > charsLeft || (opens && blocksLeft < 1)) {
        flush();
        break outer;
      }
      if (opens) {
        flush();
        blocksLeft -= 1;
      }
      charsLeft -= cost;
      text = next;
      shown += 1;
    }
    flush();
  }

  const blocks = [...head, ...findingBlocks];
  if (summary.total === 0) blocks.push(section('No findings. :white_check_mark:'));
  blocks.push(...tail);
  const omitted = summary.total - shown;
  if (omitted > 0) blocks.push({ type: 'context', elements: [mrkdwn(escapeSlack(cutNotice(omitted, summary.total)))] });
  const message = { text: escapeSlack(renderSubject(report)), blocks };
  assertSlackLimits(message);
  return message;
}

function headBlocks(report: IndexHealthReport, summary: ReportSummary): SlackBlock[] {
  const field = (label: string, value: string): SlackText => mrkdwn(clipUnits(`*${label}*\n${value}`, SLACK_MAX_FIELD_CHARS));
  const fields = [
    field('Findings', formatCount(summary.total)),
    field('Critical / warning / info', [summary.bySeverity.critical, summary.bySeverity.warning, summary.bySeverity.info].map(formatCount).join(' / ')),
    field('Database', code(clip(report.database, 200))),
    field('Generated at', formatTimestamp(report.generatedAt)),
    field('Stats reset', statsResetText(report)),
    field('Usage history', historyText(report)),
  ].slice(0, SLACK_MAX_FIELDS);
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      // plain_text is shown literally (no entities), so it is clipped, not escaped
      text: { type: 'plain_text', text: clipUnits(oneLine(`offpeak index health: ${report.database}`), SLACK_MAX_HEADER_CHARS), emoji: false },
    },
    { type: 'section', fields },
  ];
  if (summary.byKind.length > 0) blocks.push(section(clipUnits(`*By kind:* ${kindCounts(summary).join(', ')}`, SLACK_MAX_SECTION_CHARS)));
  blocks.push({ type: 'context', elements: [mrkdwn(escapeSlack(WRITER_ONLY_CAVEAT))] }, { type: 'divider' });
  return blocks;
}

function findingLine(finding: Finding): string {
  const where = finding.index === null
    ? code(`${finding.schema}.${finding.table}`)
    : `${code(`${finding.schema}.${finding.table}`)} ${code(finding.index)}`;
  const size = finding.sizeBytes === null ? '' : ` · ${prettySize(finding.sizeBytes)}`;
  const lines = [`• *${finding.kind}* ${where}${size}`, `    ${escapeSlack(clip(oneLine(finding.evidence), MAX_EVIDENCE_CHARS))}`];
  if (finding.suggestion && finding.suggestion.drop.length <= MAX_STATEMENT_CHARS) {
    lines.push(`    ${code(finding.suggestion.drop)} (restore statement in the email)`);
  }
  return lines.join('\n');
}

const usage = usageColumns(40, { withTable: false });
const unused = unusedColumns(40);

function tableBlocks(report: IndexHealthReport, summary: ReportSummary): SlackBlock[] {
  const table = (title: string, columns: readonly Column<IndexUsageRow>[], rows: readonly IndexUsageRow[], total: number): SlackBlock => {
    if (total === 0) return section(`*${title}*\nnone`);
    const shown = rows.slice(0, SLACK_TABLE_ROWS);
    const more = total - shown.length;
    const body = escapeSlack(textTable(columns, shown).join('\n').replace(/`/g, "'"));
    return section(`*${title}*${more > 0 ? ` (top ${shown.length} of ${formatCount(total)})` : ''}\n\`\`\`${body}\`\`\``);
  };
  return [
    { type: 'divider' },
    table('idx_ indexes by idx_tup_read', usage, report.usage, summary.usageTotal),
    table('Unused idx_ indexes (idx_scan = 0), largest first', unused, report.unusedBySize, summary.unusedTotal),
  ];
}

/**
 * Slack's limits, checked on every rendering: the renderer's arithmetic should make
 * this unreachable, and a refused message at 3 a.m. is worse than a loud bug.
 */
export function assertSlackLimits(message: SlackMessage): void {
  const problems: string[] = [];
  if (message.blocks.length > SLACK_MAX_BLOCKS) problems.push(`${message.blocks.length} blocks`);
  for (const block of message.blocks) {
    if (block.type === 'section' && 'text' in block && block.text.text.length > SLACK_MAX_SECTION_CHARS) problems.push(`section of ${block.text.text.length} chars`);
    if (block.type === 'section' && 'fields' in block) {
      if (block.fields.length > SLACK_MAX_FIELDS) problems.push(`${block.fields.length} fields`);
      for (const f of block.fields) if (f.text.length > SLACK_MAX_FIELD_CHARS) problems.push(`field of ${f.text.length} chars`);
    }
    if (block.type === 'header' && block.text.text.length > SLACK_MAX_HEADER_CHARS) problems.push('header too long');
  }
  const chars = JSON.stringify(message.blocks).length;
  if (chars > SLACK_MAX_BLOCKS_JSON_CHARS) problems.push(`${chars} chars of blocks`);
  if (problems.length > 0) {
    throw new OffpeakError(`Slack message exceeds Block Kit limits: ${problems.join(', ')}`, { context: { problems } });
  }
}

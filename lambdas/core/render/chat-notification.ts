/**
 * The Amazon Q Developer in chat applications (formerly AWS Chatbot) custom
 * notification: a short markdown digest that points at the email for the rest.
 */
import type { Finding, IndexHealthReport } from '../health/report.ts';
import { CHAT_MAX_DESCRIPTION_CHARS, CHAT_MAX_TITLE_CHARS } from './limits.ts';
import { clip, clipUnits, formatCount, formatTimestamp, oneLine, prettySize } from './format.ts';
import { bySeverity, cutNotice, historyText, kindCounts, severityCounts, statsResetText, summarize, WRITER_ONLY_CAVEAT } from './summary.ts';
import { renderSubject } from './subject.ts';

export interface ChatNotification {
  version: '1.0';
  source: 'custom';
  content: {
    textType: 'client-markdown';
    title: string;
    description: string;
    nextSteps: string[];
    keywords: string[];
  };
  metadata: {
    summary: string;
    eventType: string;
    additionalContext: Record<string, string>;
  };
}

/** Enough to act on from a phone; the email has the rest. */
const MAX_CHAT_FINDINGS = 10;
const MAX_KEYWORD_CHARS = 50;

export function renderChatNotification(report: IndexHealthReport): ChatNotification {
  const summary = summarize(report);
  const subject = renderSubject(report);
  const database = oneLine(report.database);
  const severities = severityCounts(summary);
  const lines = [
    `*Database:* ${code(clip(database, 120))} · generated ${formatTimestamp(report.generatedAt)}`,
    `*Findings:* ${formatCount(summary.total)}${severities.length > 0 ? ` (${severities.join(', ')})` : ''}` +
      (summary.byKind.length > 0 ? ` — ${kindCounts(summary).join(', ')}` : ''),
    `*Stats reset:* ${statsResetText(report)} · *History:* ${historyText(report)}`,
  ];
  const closing = `_${WRITER_ONLY_CAVEAT}_`;
  const worstNotice = cutNotice(summary.total, summary.total);
  let used = lines.join('\n').length + closing.length + worstNotice.length + 8;
  let shown = 0;
  const items: string[] = [];
  for (const [, group] of bySeverity(report.findings)) {
    for (const finding of group) {
      const item = findingItem(finding);
      if (shown >= MAX_CHAT_FINDINGS || used + item.length + 1 > CHAT_MAX_DESCRIPTION_CHARS) break;
      items.push(item);
      used += item.length + 1;
      shown += 1;
    }
  }
  if (items.length > 0) lines.push('', ...items);
  const omitted = summary.total - shown;
  if (omitted > 0) lines.push(cutNotice(omitted, summary.total));
  lines.push('', closing);

  return {
    version: '1.0',
    source: 'custom',
    content: {
      textType: 'client-markdown',
      title: clipUnits(summary.total === 0 ? `:white_check_mark: ${subject}` : `:warning: ${subject}`, CHAT_MAX_TITLE_CHARS),
      description: clipUnits(lines.join('\n'), CHAT_MAX_DESCRIPTION_CHARS),
      nextSteps: nextSteps(report.findings, summary.total),
      keywords: ['offpeak', 'index-health', clip(database, MAX_KEYWORD_CHARS), ...summary.byKind.slice(0, 3).map(([kind]) => kind)],
    },
    metadata: {
      summary: subject,
      eventType: 'OffpeakIndexHealthReport',
      additionalContext: {
        database: clip(database, 200),
        generatedAt: report.generatedAt.toISOString(),
        findings: String(summary.total),
      },
    },
  };
}

function code(text: string): string {
  return `\`${oneLine(text).replace(/`/g, "'")}\``;
}

function findingItem(finding: Finding): string {
  const where = finding.index === null
    ? code(`${finding.schema}.${finding.table}`)
    : `${code(`${finding.schema}.${finding.table}`)} ${code(finding.index)}`;
  const size = finding.sizeBytes === null ? '' : ` (${prettySize(finding.sizeBytes)})`;
  return `• *${finding.severity} ${finding.kind}* ${where}${size}: ${clip(oneLine(finding.evidence), 200)}`;
}

function nextSteps(findings: readonly Finding[], total: number): string[] {
  if (total === 0) return ['Nothing to do: no index findings tonight.'];
  const steps: string[] = [];
  if (findings.some((f) => f.kind === 'invalid')) {
    steps.push('Drop or rebuild INVALID indexes: they are not used by queries but cost on every write.');
  }
  if (findings.some((f) => f.suggestion !== null)) {
    steps.push('Review the DROP suggestions in the email; each comes with the CREATE INDEX CONCURRENTLY that restores it.');
  }
  if (findings.some((f) => f.kind === 'fk_without_index')) {
    steps.push('Consider an index leading with each unindexed foreign key, added through an offpeak migration.');
  }
  if (findings.some((f) => f.kind === 'plan_regression')) {
    steps.push('A query no longer uses the index its migration built it for: run `offpeak verify-plans` to see each plan now.');
  }
  steps.push('Check reader instances before dropping: their scans are not counted here.');
  steps.push('Run `offpeak report` against the database for the full report.');
  return steps;
}

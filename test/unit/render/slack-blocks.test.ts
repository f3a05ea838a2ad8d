import { describe, expect, it } from 'vitest';
import type { SlackBlock, SlackMessage } from '../../../lambdas/core/render/slack-blocks.ts';
import { escapeSlack, renderSlackBlocks } from '../../../lambdas/core/render/slack-blocks.ts';
import { parseReportJson, renderJson } from '../../../lambdas/core/render/report-json.ts';
import { jsonStringCost } from '../../../lambdas/core/render/text-budget.ts';
import { producerReport, replicate } from '../../support/report-fixtures.ts';

/** Every text Slack will show, to assert on content without caring about block layout. */
function texts(message: SlackMessage): string[] {
  return message.blocks.flatMap((block: SlackBlock) => {
    if (block.type === 'header') return [block.text.text];
    if (block.type === 'context') return block.elements.map((e) => e.text);
    if (block.type === 'section') return 'text' in block ? [block.text.text] : block.fields.map((f) => f.text);
    return [];
  });
}

function expectWithinSlackLimits(message: SlackMessage): void {
  expect(message.blocks.length).toBeLessThanOrEqual(50);
  for (const block of message.blocks) {
    if (block.type === 'section' && 'text' in block) expect(block.text.text.length).toBeLessThanOrEqual(3_000);
    if (block.type === 'section' && 'fields' in block) {
      expect(block.fields.length).toBeLessThanOrEqual(10);
      for (const field of block.fields) expect(field.text.length).toBeLessThanOrEqual(2_000);
    }
    if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(150);
  }
  expect(JSON.stringify(message.blocks).length).toBeLessThan(12_000);
}

describe('renderSlackBlocks', () => {
  it('renders 500 findings within Block Kit limits and says how many were cut', () => {
    // Prepare
    const report = replicate(producerReport(), { findings: 500 });
    // Act
    const message = renderSlackBlocks(report);
    // Assess
    expectWithinSlackLimits(message);
    const all = texts(message).join('\n');
    const shown = (all.match(/^• \*/gm) ?? []).length;
    expect(shown).toBeGreaterThan(10);
    expect(all).toContain(`… and ${500 - shown} more findings not shown (${shown} of 500 shown;`);
    expect(message.text).toContain('offpeak: 500 findings on postgres');
  });

  it('shows the summary, the caveat, findings by severity and both monitoring views', () => {
    const report = producerReport();
    const message = renderSlackBlocks(report);
    const all = texts(message).join('\n');
    expect(message.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'offpeak index health: postgres', emoji: false } });
    expect(all).toContain('*Findings*\n8');
    expect(all).toContain('*Critical / warning / info*\n1 / 6 / 1');
    expect(all).toContain('*Stats reset*\nnever reset');
    expect(all).toContain('*Usage history*\n20 days of usage snapshots');
    expect(all).toContain('writer instance only');
    expect(all.indexOf('Critical (1)')).toBeLessThan(all.indexOf('Warning (6)'));
    expect(all.indexOf('Warning (6)')).toBeLessThan(all.indexOf('Info (1)'));
    // every finding under its severity, with its evidence and its DROP when advised
    for (const f of report.findings) {
      const line = `• *${f.kind}* \`${f.schema}.${f.table}\`${f.index === null ? '' : ` \`${f.index}\``}`;
      expect(all, line).toContain(line);
      expect(all).toContain(f.evidence);
      if (f.suggestion !== null) expect(all).toContain(`\`${f.suggestion.drop}\``);
    }
    expect(all).toContain('`DROP INDEX CONCURRENTLY IF EXISTS shop.idx_orders_bad`');
    expect(all).toMatch(/\*idx_ indexes by idx_tup_read\* \(top 8 of 9\)\n```index +idx_scan +idx_tup_read/);
    expect(all).toMatch(/\*Unused idx_ indexes \(idx_scan = 0\), largest first\* \(top 8 of 9\)\n```index +table +size\n-+ .*\nidx_docs_body3 +shop\.docs +848 kB\n/);
    expect(all).not.toContain('not shown');
  });

  it('escapes &, < and > everywhere Slack parses mrkdwn', () => {
    // Prepare: a name that would otherwise become a Slack link or mention
    const report = replicate(producerReport(), { findings: 3, database: 'a<b>&c', tableSuffix: '<!channel>' });
    report.findings[0]!.evidence = 'ratio > 1.5 & size < 10 MB';
    // Act
    const message = renderSlackBlocks(report);
    // Assess
    const mrkdwnTexts = texts(message).slice(1); // the header is plain_text, shown literally
    for (const text of mrkdwnTexts) expect(text.replace(/&(amp|lt|gt);/g, '')).not.toMatch(/[<>&]/);
    expect(mrkdwnTexts.join('\n')).toContain('ratio &gt; 1.5 &amp; size &lt; 10 MB');
    expect(mrkdwnTexts.join('\n')).toContain('&lt;!channel&gt;');
    expect(message.text).toContain('a&lt;b&gt;&amp;c');
    expect(escapeSlack('<&>')).toBe('&lt;&amp;&gt;');
  });

  it('renders an empty report sensibly', () => {
    const message = renderSlackBlocks({ ...replicate(producerReport(), { findings: 0, usageRows: 0 }), database: 'appdb' });
    const all = texts(message).join('\n');
    expectWithinSlackLimits(message);
    expect(all).toContain('No findings.');
    expect(all).toContain('*idx_ indexes by idx_tup_read*\nnone');
    expect(all).not.toContain('not shown');
    expect(message.text).toBe('offpeak: no findings on appdb');
  });

  it('counts what the SNS JSON body cut when Slack is rendered from it', () => {
    // Prepare: the slack-notify path: report -> budgeted JSON -> parse -> Slack
    const json = renderJson(replicate(producerReport(), { findings: 50_000, usageRows: 200 }), { maxBytes: 60_000, cost: jsonStringCost });
    const rebuilt = parseReportJson(json);
    // Act
    const message = renderSlackBlocks(rebuilt);
    // Assess
    expectWithinSlackLimits(message);
    const all = texts(message).join('\n');
    expect(all).toContain('*Findings*\n50,000');
    expect(all).toMatch(/… and [\d,]+ more findings not shown \([\d,]+ of 50,000 shown;/);
    expect(all).toContain('(top 8 of 200)');
  });

  it('stays within limits with long Unicode names', () => {
    const report = replicate(producerReport(), { findings: 400, database: '🚀データ'.repeat(100), tableSuffix: '_таблица'.repeat(6) });
    const message = renderSlackBlocks(report);
    expectWithinSlackLimits(message);
    expect(texts(message).join('\n')).not.toContain('\uFFFD');
  });
});

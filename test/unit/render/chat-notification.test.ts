import { describe, expect, it } from 'vitest';
import { renderChatNotification } from '../../../lambdas/core/render/chat-notification.ts';
import { producerReport, replicate } from '../../support/report-fixtures.ts';

describe('renderChatNotification', () => {
  it('has the Amazon Q Developer custom-notification shape', () => {
    // Act
    const report = producerReport();
    const notification = renderChatNotification(report);
    // Assess
    expect(notification).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: {
        textType: 'client-markdown',
        title: ':warning: offpeak: 8 findings on postgres (1 bloated, 1 duplicate, 1 fk_without_index, 1 invalid, …)',
      },
    });
    const { description, nextSteps, keywords } = notification.content;
    expect(description).toContain('*Findings:* 8 (1 critical, 6 warning, 1 info)');
    expect(description).toContain('• *critical invalid* `shop.orders` `idx_orders_bad` (0 bytes): INVALID and not ready');
    // every finding has its line: severity, kind, table and index
    for (const f of report.findings) {
      expect(description).toContain(`• *${f.severity} ${f.kind}* \`${f.schema}.${f.table}\`${f.index === null ? ':' : ` \`${f.index}\``}`);
    }
    expect(description).toContain('writer instance only');
    expect(nextSteps.some((step) => step.includes('INVALID'))).toBe(true);
    expect(nextSteps.some((step) => step.includes('restores'))).toBe(true);
    expect(nextSteps.some((step) => step.includes('foreign key'))).toBe(true);
    expect(keywords).toEqual(['offpeak', 'index-health', 'postgres', 'bloated', 'duplicate', 'fk_without_index']);
  });

  it('keeps the description short and says how much was left out', () => {
    const notification = renderChatNotification(replicate(producerReport(), { findings: 5_000, database: '🚀'.repeat(300) }));
    expect(notification.content.description.length).toBeLessThanOrEqual(3_500);
    expect(notification.content.title.length).toBeLessThanOrEqual(250);
    expect(notification.content.description).toMatch(/… and 4,990 more findings not shown \(10 of 5,000 shown;/);
    // No lone surrogate anywhere (JSON.stringify escapes one as \udXXX, wherever it is: before a quote or a "…")
    const loneSurrogate = /\\u[dD][89abAB][0-9a-fA-F]{2}/;
    expect(JSON.stringify('ab\ud83d…')).toMatch(loneSurrogate); // the check can fail
    expect(JSON.stringify('ab🚀…')).not.toMatch(loneSurrogate);
    expect(JSON.stringify(notification)).not.toMatch(loneSurrogate);
    expect(/[\uD800-\uDFFF]/u.test(notification.content.description + notification.content.title)).toBe(false);
  });

  it('points to verify-plans when a plan expectation regressed', () => {
    const report = producerReport();
    const regression = { ...report.findings[0]!, kind: 'plan_regression' as const, severity: 'warning' as const, index: 'idx_assistants_user_id_created_at', suggestion: null, evidence: 'expectation "assistants of a user" of migration 803b93aca2d2 was usable when checked; now NOT USABLE' };
    const notification = renderChatNotification({ ...report, findings: [regression] });
    expect(notification.content.description).toContain('*warning plan_regression*');
    expect(notification.content.nextSteps).toContain('A query no longer uses the index its migration built it for: run `offpeak verify-plans` to see each plan now.');
  });

  it('says there is nothing to do for an empty report', () => {
    const notification = renderChatNotification({ ...replicate(producerReport(), { findings: 0 }), database: 'appdb' });
    expect(notification.content.title).toBe(':white_check_mark: offpeak: no findings on appdb');
    expect(notification.content.nextSteps).toEqual(['Nothing to do: no index findings tonight.']);
    expect(notification.content.description).not.toContain('not shown');
  });
});

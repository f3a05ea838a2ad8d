import { describe, expect, it } from 'vitest';
import { buildSnsMessage } from '../../../lambdas/core/render/sns-message.ts';
import { parseReportJson } from '../../../lambdas/core/render/report-json.ts';
import { producerReport, replicate } from '../../support/report-fixtures.ts';

interface Envelope {
  default: string;
  email: string;
  lambda: string;
  https: string;
}

const requestBytes = (m: { Subject: string; Message: string }): number =>
  Buffer.byteLength(m.Subject, 'utf8') + Buffer.byteLength(m.Message, 'utf8');

describe('buildSnsMessage', () => {
  it('gives default and email text, lambda and https the report JSON', () => {
    // Act
    const report = producerReport();
    const message = buildSnsMessage(report);
    // Assess
    expect(message.MessageStructure).toBe('json');
    expect(message.Subject).toBe('offpeak: 8 findings on postgres (1 bloated, 1 duplicate, 1 fk_without_index, 1 invalid, …)');
    const envelope = JSON.parse(message.Message) as Envelope;
    expect(Object.keys(envelope).sort()).toEqual(['default', 'email', 'https', 'lambda', 'sms']);
    expect((envelope as Envelope & { sms: string }).sms).toBe(message.Subject);
    for (const value of Object.values(envelope)) expect(typeof value).toBe('string');
    expect(envelope.email).toContain('offpeak index health report: postgres');
    for (const f of report.findings) expect(envelope.email).toContain(f.evidence);
    expect(envelope.email).toContain('Restore: CREATE INDEX CONCURRENTLY IF NOT EXISTS');
    expect(envelope.default).toContain('offpeak index health report: postgres');
    expect(envelope.https).toBe(envelope.lambda);
    expect(parseReportJson(envelope.lambda)).toEqual(report);
  });

  it('fits 50,000 findings, with Unicode names, into 262,144 bytes and says what was cut', () => {
    // Prepare: multi-byte names and quote-heavy statements make escaping expensive
    const report = replicate(producerReport(), { findings: 50_000, database: 'データベース', tableSuffix: '_заказы_🚀' });
    // Act
    const message = buildSnsMessage(report);
    // Assess
    expect(requestBytes(message)).toBeLessThanOrEqual(262_144);
    expect(requestBytes(message)).toBeGreaterThan(250_000);
    const envelope = JSON.parse(message.Message) as Envelope;
    expect(envelope.email.trimEnd()).toMatch(/… and [\d,]+ more findings not shown \([\d,]+ of 50,000 shown;[^\n]*$/);
    expect(envelope.default.trimEnd()).toMatch(/… and [\d,]+ more findings not shown/);
    const rebuilt = parseReportJson(envelope.lambda);
    expect(rebuilt.findings.length + rebuilt.omitted!.findings).toBe(50_000);
    expect(rebuilt.database).toBe('データベース');
  });

  it('sends the chat custom notification on https when asked, still within budget', () => {
    const message = buildSnsMessage(replicate(producerReport(), { findings: 50_000 }), { https: 'chat-notification' });
    expect(requestBytes(message)).toBeLessThanOrEqual(262_144);
    const envelope = JSON.parse(message.Message) as Envelope;
    expect(JSON.parse(envelope.https)).toMatchObject({ version: '1.0', source: 'custom', content: { textType: 'client-markdown' } });
    expect(parseReportJson(envelope.lambda).omitted!.findings).toBeGreaterThan(0);
  });

  it('builds a small message for an empty report', () => {
    const message = buildSnsMessage(replicate(producerReport(), { findings: 0, usageRows: 0 }));
    expect(message.Subject).toBe('offpeak: no findings on postgres');
    const envelope = JSON.parse(message.Message) as Envelope;
    expect(envelope.email).toContain('No findings.');
    expect(requestBytes(message)).toBeLessThan(5_000);
  });
});

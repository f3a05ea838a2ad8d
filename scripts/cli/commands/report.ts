import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { helpRequested, parseVerb } from '../args.ts';
import { withClient } from '../session.ts';
import { targetOptions } from '../target.ts';
import { healthOptions, healthOptionsFrom } from '../health-options.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import type { SqlExecutor } from '../../../lambdas/core/db/client.ts';
import type { HealthOptions } from '../../../lambdas/core/health/options.ts';
import type { IndexHealthReport } from '../../../lambdas/core/health/report.ts';
import { buildIndexHealthReport } from '../../../lambdas/core/health/build-report.ts';
import { renderEmailText } from '../../../lambdas/core/render/email-text.ts';
import { renderJson } from '../../../lambdas/core/render/report-json.ts';
import { renderSlackBlocks } from '../../../lambdas/core/render/slack-blocks.ts';

const usage = 'report [--format text|json|slack] [--unused-days N] [--drop-prefix P] [--ledger-schema S] [target options]';
const FORMATS = ['text', 'json', 'slack'] as const;
export type ReportFormat = (typeof FORMATS)[number];

export function renderReport(report: IndexHealthReport, format: ReportFormat): string {
  switch (format) {
    case 'text':
      // Same rendering as the email, but the terminal is not bound by SNS's 256 KB: every finding, whole views.
      return renderEmailText(report, { maxBytes: Infinity, tableRows: Infinity });
    case 'json':
      return renderJson(report);
    case 'slack':
      return JSON.stringify(renderSlackBlocks(report), null, 2);
  }
}

/**
 * Builds the index-health report on an open database and writes it in `format`.
 * `npm start` calls this at its end with the text format.
 */
export async function writeIndexHealthReport(
  client: SqlExecutor,
  stdout: NodeJS.WritableStream,
  options: { format?: ReportFormat; health?: Partial<HealthOptions>; now?: Date } = {},
): Promise<IndexHealthReport> {
  const report = await buildIndexHealthReport({ client, options: options.health, now: options.now });
  const text = renderReport(report, options.format ?? 'text');
  stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  return report;
}

export const reportCommand: Command = {
  name: 'report',
  summary: 'index-health report: unused, invalid, duplicate, overlapping, oversized, bloated indexes; FKs without index; stale stats',
  async run({ argv, stdout, env, cwd }) {
    const options = { ...targetOptions, ...healthOptions, format: { type: 'string' } } as const;
    const { values } = parseVerb(argv, { usage, options, positionals: { min: 0, max: 0 } });
    if (helpRequested(values, usage, stdout)) return ExitCode.ok;
    const format = (values.format ?? (values.json ? 'json' : 'text')) as ReportFormat;
    if (!FORMATS.includes(format)) {
      throw new ConfigError(`--format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(values.format)}`);
    }
    const health = healthOptionsFrom(values);
    await withClient(values, env, cwd, (client) => writeIndexHealthReport(client, stdout, { format, health }), { readOnly: true });
    return ExitCode.ok;
  },
};

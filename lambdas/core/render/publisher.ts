/**
 * The port through which a finished report leaves the core. The SNS adapter lives in
 * lambdas/runtime/sns-report-publisher.ts; the CLI prints instead of publishing.
 */
import type { IndexHealthReport } from '../health/report.ts';

export interface PublishResult {
  /** The transport's id for the message (SNS MessageId), for logs. */
  messageId: string;
}

export interface ReportPublisher {
  /** Publishes the report once. Throws ReportPublishError when the transport refused it. */
  publish(report: IndexHealthReport): Promise<PublishResult>;
}

import { Duration, TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface OffpeakScheduleProps {
  description: string;
  /** An EventBridge Scheduler cron, e.g. `cron(0 2 ? * MON-FRI *)`. */
  cron: string;
  /** IANA time zone the cron is evaluated in, e.g. `Europe/Moscow`. */
  timeZone: string;
  /** Builds the target with the shared retry policy and dead-letter queue. */
  target: (options: { deadLetterQueue: sqs.IQueue; retryAttempts: number; maxEventAge: Duration }) => scheduler.IScheduleTarget;
  deadLetterQueue: sqs.IQueue;
}

/** Retries for a failed delivery, then the DLQ (where an alarm watches). */
export const SCHEDULE_RETRY_ATTEMPTS = 3;
export const SCHEDULE_MAX_EVENT_AGE = Duration.hours(1);

/**
 * An EventBridge Scheduler schedule (not a legacy EventBridge rule, which only
 * knows UTC) in a time zone, with flexible window off, a retry policy and an SQS DLQ.
 */
export class OffpeakSchedule extends Construct {
  readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: OffpeakScheduleProps) {
    super(scope, id);
    assertSchedulerCron(props.cron);
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: props.description,
      schedule: scheduler.ScheduleExpression.expression(props.cron, TimeZone.of(props.timeZone)),
      timeWindow: scheduler.TimeWindow.off(),
      target: props.target({
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
        maxEventAge: SCHEDULE_MAX_EVENT_AGE,
      }),
    });
  }
}

/** Catch a Unix-style or malformed cron at synth time instead of at deploy time. */
export function assertSchedulerCron(expression: string): void {
  const match = /^cron\((.+)\)$/.exec(expression.trim());
  const fields = match?.[1]!.trim().split(/\s+/) ?? [];
  if (fields.length !== 6) {
    throw new Error(
      `schedule ${JSON.stringify(expression)} is not an EventBridge Scheduler cron: write cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 2 ? * MON-FRI *)`,
    );
  }
  if (fields[2] !== '?' && fields[4] !== '?') {
    throw new Error(`schedule ${JSON.stringify(expression)}: one of day-of-month and day-of-week must be '?'`);
  }
}

import { OffpeakError } from '../core/errors.ts';
import { runDoctor, renderDoctorTable, type DoctorReport } from '../core/doctor/doctor.ts';
import { databaseConfig } from '../runtime/config.ts';
import { offpeakHandler } from '../runtime/middleware.ts';
import { openMigrator } from '../runtime/migrator.ts';
import { logger } from '../runtime/observability.ts';
import { doctorEventSchema } from './schemas.ts';

/**
 * `offpeak doctor` in the account: run by a CDK trigger after each deploy (and by
 * hand). Any problem throws, so the trigger fails the deploy with the findings
 * and their fixes instead of the first window failing at 2 a.m.
 */
export const handler = offpeakHandler('doctor', doctorEventSchema, async (): Promise<DoctorReport> => {
  const config = databaseConfig();
  const { migrator, client } = openMigrator('offpeak-doctor');
  const report = await runDoctor({ client, migrator, ledgerSchema: config.ledgerSchema, clusterArn: config.resourceArn });
  logger.info({ message: 'doctor', ok: report.ok, findings: report.findings });
  if (!report.ok) {
    throw new OffpeakError(`offpeak doctor found problems:\n${renderDoctorTable(report)}`, { context: { findings: report.findings } });
  }
  return report;
});

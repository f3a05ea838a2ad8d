import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from './env-names.ts';

/**
 * One logger and one metrics object per Lambda container (module scope), as
 * Powertools intends. The service name comes from POWERTOOLS_SERVICE_NAME, set
 * per function by infra; the namespace defaults to the one the dashboard reads.
 */
export const logger = new Logger({ serviceName: process.env['POWERTOOLS_SERVICE_NAME'] ?? 'offpeak' });

export const metrics = new Metrics({
  namespace: process.env['POWERTOOLS_METRICS_NAMESPACE'] ?? METRICS_NAMESPACE,
  serviceName: process.env['POWERTOOLS_SERVICE_NAME'] ?? 'offpeak',
});

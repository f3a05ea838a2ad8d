/** The existing Aurora cluster offpeak works on, reached through the Data API. */
export interface DatabaseTarget {
  clusterArn: string;
  /** Complete (with the 6-character suffix) or partial secret ARN. */
  secretArn: string;
  databaseName: string;
  ledgerSchema: string;
}

/**
 * A complete secret ARN ends in `-` plus 6 random characters. For a partial ARN
 * IAM needs `-??????` to match it; never a bare `*`.
 */
export function secretArnPattern(secretArn: string): string {
  if (secretArn.startsWith('${Token')) return secretArn;
  return /-[A-Za-z0-9]{6}$/.test(secretArn) ? secretArn : `${secretArn}-??????`;
}

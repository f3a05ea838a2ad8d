import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { resolveTarget } from '../../../scripts/cli/target.ts';

const arn = 'arn:aws:rds:eu-west-1:123456789012:cluster:app';
const dataApi = { 'resource-arn': arn, 'secret-arn': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:s', database: 'app' };

describe('resolveTarget', () => {
  it('takes the region from the cluster ARN when none is configured, and the configured one otherwise', () => {
    expect(resolveTarget(dataApi, {}, '/x')).toMatchObject({ kind: 'data-api', region: 'eu-west-1', endpoint: undefined });
    expect(resolveTarget(dataApi, { AWS_REGION: 'us-east-2' }, '/x')).toMatchObject({ region: 'us-east-2' });
    expect(resolveTarget(dataApi, { AWS_DEFAULT_REGION: 'ap-south-1' }, '/x')).toMatchObject({ region: 'ap-south-1' });
  });

  it('refuses an ARN without a region when none is configured, naming the option', () => {
    expect(() => resolveTarget({ ...dataApi, 'resource-arn': 'cluster-app' }, {}, '/x')).toThrow(/--resource-arn "cluster-app" names no region/);
    // a local server does not need one
    expect(resolveTarget({ ...dataApi, 'resource-arn': 'cluster-app', 'data-api-endpoint': 'http://127.0.0.1:8080' }, {}, '/x')).toMatchObject({ region: undefined });
  });

  it('lets an explicit flag win over DATABASE_URL, and refuses two explicit targets', () => {
    expect(resolveTarget({ 'pglite-dir': 'db' }, { DATABASE_URL: 'postgres://u@h/d' }, '/x')).toMatchObject({ kind: 'pglite', dataDir: '/x/db', explicit: true });
    expect(resolveTarget({}, { DATABASE_URL: 'postgres://u@h/d' }, '/x')).toMatchObject({ kind: 'pg' });
    expect(() => resolveTarget({ 'pglite-dir': 'db', 'database-url': 'postgres://u@h/d' }, {}, '/x')).toThrow(ConfigError);
    expect(() => resolveTarget({ ...dataApi, 'database-url': 'postgres://u@h/d' }, {}, '/x')).toThrow(/choose one target/);
  });

  it('refuses empty values instead of falling back to the embedded database', () => {
    expect(() => resolveTarget({ 'database-url': '  ' }, {}, '/x')).toThrow(/--database-url is empty/);
    expect(() => resolveTarget({}, { DATABASE_URL: '' }, '/x')).toThrow(/DATABASE_URL is set but empty/);
    expect(() => resolveTarget({ 'pglite-dir': '' }, {}, '/x')).toThrow(/--pglite-dir is empty/);
    expect(resolveTarget({}, {}, '/x')).toMatchObject({ kind: 'pglite', dataDir: '/x/.offpeak/pglite', explicit: false });
  });
});

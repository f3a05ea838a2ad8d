import {
  DatabaseResumingException,
  DatabaseUnavailableException,
  ExecuteStatementCommand,
  HttpEndpointNotEnabledException,
  SecretsErrorException,
  type RDSDataClient,
} from '@aws-sdk/client-rds-data';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { noFaults, parseFaults } from '../../../scripts/data-api/faults.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { execute, rejection } from './helpers.ts';

/** Fault injection (issue 13 item 11): the failures AWS produces, on demand, seeded. */
let api: TestDataApi;
let now = 1_000_000;

beforeAll(async () => {
  api = await startTestDataApi({ clock: () => now, seed: 1 });
  await execute(api, { sql: 'CREATE TABLE events (id int8 PRIMARY KEY)' });
});
afterAll(() => api?.dispose());
afterEach(() => api.faults.set(noFaults()));

const setFaults = async (faults: string, seed?: number) => {
  const response = await fetch(`${api.endpoint}/_offpeak/faults`, { method: 'POST', body: JSON.stringify({ faults, seed }) });
  expect(response.status).toBe(200);
  return (await response.json()) as { faults: string; seed: number };
};
const count = async () => (await execute(api, { sql: 'SELECT count(*) FROM events' })).records?.[0]?.[0]?.longValue;
/** Rows with this id: each test inserts its own, so no test sees another's (found by a shuffled run). */
const rowsWithId = async (id: number) =>
  (await execute(api, { sql: 'SELECT count(*) FROM events WHERE id = :id', parameters: [{ name: 'id', value: { longValue: id } }] })).records?.[0]?.[0]?.longValue;
const insert = (id: number) => execute(api, { sql: 'INSERT INTO events VALUES (:id) ON CONFLICT DO NOTHING', parameters: [{ name: 'id', value: { longValue: id } }] });

describe('faults', () => {
  it('pause-after: the first calls after an idle period → DatabaseResumingException, then served [API model: DatabaseResumingException · high]', async () => {
    // Prepare
    const shown = await setFaults('pause-after=300000,resume-calls=2');
    now += 300_000;

    // Act
    const first = await rejection(execute(api, { sql: 'SELECT 1' }));
    const second = await rejection(execute(api, { sql: 'SELECT 1' }));
    const third = await execute(api, { sql: 'SELECT 1 AS one' });

    // Assess
    expect(shown.faults).toBe('pause-after=300000,resume-calls=2');
    expect(first).toBeInstanceOf(DatabaseResumingException);
    expect(first.$metadata?.httpStatusCode).toBe(400);
    expect(first.message).toMatch(/resuming after being auto-paused/);
    expect(second).toBeInstanceOf(DatabaseResumingException);
    expect(third.records).toEqual([[{ longValue: 1 }]]);
  });

  it('unavailable=1 → DatabaseUnavailableException (504) and the statement did not run [API model: DatabaseUnavailableException · high]', async () => {
    // Prepare
    await setFaults('unavailable=1');

    // Act
    const error = await rejection(insert(1));
    api.faults.set(noFaults());

    // Assess
    expect(error).toBeInstanceOf(DatabaseUnavailableException);
    expect(error.$metadata?.httpStatusCode).toBe(504);
    expect(await rowsWithId(1)).toBe(0);
  });

  it('lost=1 → the statement ran and committed, the caller gets a dropped connection [offpeak fault: lost reply · high]', async () => {
    // Prepare
    await setFaults('lost=1');

    // Act
    const error = await rejection(insert(2));
    api.faults.set(noFaults());

    // Assess: not a service error (no $fault): the SDK saw the socket close
    expect((error as { $fault?: unknown }).$fault).toBeUndefined();
    expect(await rowsWithId(2)).toBe(1);
  });

  it('endpoint-disabled → HttpEndpointNotEnabledException naming the cluster [troubleshooting: HttpEndpoint isn\'t enabled · high]', async () => {
    // Prepare
    await setFaults('endpoint-disabled');

    // Act
    const error = await rejection(execute(api, { sql: 'SELECT 1' }));

    // Assess
    expect(error).toBeInstanceOf(HttpEndpointNotEnabledException);
    expect(error.message).toBe('HttpEndpoint is not enabled for cluster offpeak-local');
  });

  it('secret-error=ARN → SecretsErrorException for that secret only [API model: SecretsErrorException · high]', async () => {
    // Prepare
    await setFaults(`secret-error=${api.secretArn}`);
    const other = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf';

    // Act
    const error = await rejection(execute(api, { sql: 'SELECT 1' }));
    const fine = await api.sdk.send(new ExecuteStatementCommand({ resourceArn: api.resourceArn, secretArn: other, database: api.database, sql: 'SELECT 1 AS one' }));

    // Assess
    expect(error).toBeInstanceOf(SecretsErrorException);
    expect(error.message).toContain(api.secretArn);
    expect(fine.records).toEqual([[{ longValue: 1 }]]);
  });

  it('the same seed replays the same faults for the same calls', async () => {
    // Act
    const pattern = async () => {
      await setFaults('resuming=0.3,unavailable=0.2', 42);
      const outcomes: string[] = [];
      for (let i = 0; i < 30; i++) outcomes.push(await execute(api, { sql: 'SELECT 1' }).then(() => 'ok', (e: Error) => e.name));
      return outcomes;
    };
    const first = await pattern();
    const second = await pattern();

    // Assess
    expect(second).toEqual(first);
    expect(new Set(first)).toEqual(new Set(['ok', 'DatabaseResumingException', 'DatabaseUnavailableException']));
  });

  it('rejects a malformed fault list with what to write instead', async () => {
    // Act
    const response = await fetch(`${api.endpoint}/_offpeak/faults`, { method: 'POST', body: JSON.stringify({ faults: 'resuming=2' }) });

    // Assess
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toBe('fault resuming needs a probability between 0 and 1 (e.g. resuming=0.05), got "2"');
    expect(() => parseFaults('flaky=1')).toThrow(/unknown fault "flaky": use resuming, unavailable, lost, endpoint-disabled, secret-error, pause-after, resume-calls/);
    expect(() => parseFaults('secret-error=')).toThrow(/needs the secret ARN/);
  });
});

// ---- The example of docs/data-api-server.md ("Testing your retry code"), run as written there.

const retryable = new Set(['DatabaseResumingException', 'DatabaseUnavailableException']);

/** Your retry code: resend a call the service refused before running it, with backoff. */
async function sendWithRetry<T>(client: RDSDataClient, command: ExecuteStatementCommand, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await client.send(command)) as T;
    } catch (error) {
      if (attempt >= attempts || !retryable.has((error as Error).name)) throw error;
      await new Promise((r) => setTimeout(r, 10 * 2 ** attempt));
    }
  }
}

describe('testing retry code with injected faults', () => {
  it('every insert lands exactly once under resuming=0.3,unavailable=0.2 (seeded)', async () => {
    // Prepare
    const seed = 7;
    await setFaults('resuming=0.3,unavailable=0.2', seed);
    const before = await (api.faults.set(noFaults()), count());
    await setFaults('resuming=0.3,unavailable=0.2', seed);

    // Act
    for (let id = 100; id < 120; id++) {
      await sendWithRetry(api.sdk, new ExecuteStatementCommand({
        resourceArn: api.resourceArn, secretArn: api.secretArn, database: api.database,
        sql: 'INSERT INTO events VALUES (:id)', parameters: [{ name: 'id', value: { longValue: id } }],
      }));
    }
    api.faults.set(noFaults());

    // Assess
    expect(await count()).toBe(before! + 20);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import type { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import * as schemas from '../../../lambdas/handlers/schemas.ts';
import { seededRandom } from '../../../scripts/data-api/faults.ts'; // mulberry32: a failure names a reproducible event
import { handlerEnv, lambdaContext } from './lambda-context.ts';

/**
 * 1,000+ malformed events per handler. Each must be refused with a ValidationError
 * naming the handler, and none may reach the database, SNS, Secrets Manager or Slack:
 * the Data API endpoint and the Slack webhook are a real HTTP server that counts
 * every request it gets.
 */
const EVENTS_PER_HANDLER = 1_000;
/** The PRNG seed (fixed, so a run is repeatable; OFFPEAK_FUZZ_SEED explores others). Failures name it. */
const SEED = Number(process.env['OFFPEAK_FUZZ_SEED'] ?? 7_919);

let server: Server;
let requests = 0;
const sns = mockClient(SNSClient);
const secrets = mockClient(SecretsManagerClient);

// ------------------------------------------------------------------ generators

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const NASTY_STRINGS = [
  '', ' ', '-1', '-2', '+1', 'head', 'base; DROP TABLE orders', "'; DELETE FROM offpeak.applied_migrations; --", '💥', 'ü'.repeat(70),
  'a'.repeat(65), '2030-13-45T99:99:99Z', 'yesterday', 'null', 'true', '{}', '[]', '\u0000', 'window-run', 'schedule', 'aws:sns',
];

function randomJson(rand: () => number, depth = 0): Json {
  const pick = Math.floor(rand() * (depth > 2 ? 5 : 7));
  switch (pick) {
    case 0: return null;
    case 1: return rand() < 0.5;
    case 2: return [0, -1, 1.5, Number.MAX_SAFE_INTEGER, -0, 1e308][Math.floor(rand() * 6)]!;
    case 3: return NASTY_STRINGS[Math.floor(rand() * NASTY_STRINGS.length)]!;
    case 4: return Math.floor(rand() * 2 ** 52).toString(36).slice(0, Math.floor(rand() * 12));
    case 5: return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(rand, depth + 1));
    default: {
      const out: Record<string, Json> = {};
      for (let i = Math.floor(rand() * 4); i > 0; i--) out[NASTY_STRINGS[Math.floor(rand() * NASTY_STRINGS.length)]! || 'k'] = randomJson(rand, depth + 1);
      return out;
    }
  }
}

/** A valid event with one field corrupted, dropped or added. */
function mutate(rand: () => number, valid: Record<string, Json>): Json {
  const copy = structuredClone(valid) as Record<string, Json>;
  const keys = Object.keys(copy);
  const key = keys[Math.floor(rand() * keys.length)]!;
  switch (Math.floor(rand() * 4)) {
    case 0: copy[key] = randomJson(rand, 2); break;
    case 1: delete copy[key]; break;
    case 2: copy[NASTY_STRINGS[Math.floor(rand() * NASTY_STRINGS.length)] || 'extra'] = randomJson(rand, 2); break;
    default: {
      const inner = copy[key];
      if (inner && typeof inner === 'object' && !Array.isArray(inner)) copy[key] = mutate(rand, inner);
      else if (Array.isArray(inner) && inner[0] && typeof inner[0] === 'object' && !Array.isArray(inner[0])) copy[key] = [mutate(rand, inner[0] as Record<string, Json>)];
      else copy[key] = randomJson(rand, 3);
    }
  }
  return copy;
}

/** Events the handler's own schema rejects: half random JSON, half near-misses of a valid event. */
function malformedEvents(schema: z.ZodType, valid: Array<Record<string, Json>>, seed: number): Json[] {
  const rand = seededRandom(seed);
  const out: Json[] = [];
  for (let tries = 0; out.length < EVENTS_PER_HANDLER && tries < EVENTS_PER_HANDLER * 20; tries++) {
    const event = rand() < 0.5 ? randomJson(rand) : mutate(rand, valid[Math.floor(rand() * valid.length)]!);
    if (!schema.safeParse(event).success) out.push(event);
  }
  return out;
}

const snsRecord = {
  EventSource: 'aws:sns',
  Sns: { MessageId: 'm-1', TopicArn: 'arn:aws:sns:us-east-1:123456789012:t', Subject: 's', Message: '{}', Timestamp: '2030-03-05T01:30:00.000Z' },
};

const cases: Array<{ name: string; module: string; schema: z.ZodType; valid: Array<Record<string, Json>> }> = [
  { name: 'plan', module: 'plan', schema: schemas.planEventSchema, valid: [{ input: { source: 'schedule', scheduledTime: '2030-03-04T23:00:00Z' }, startedAt: '2030-03-04T23:00:01Z' }] },
  { name: 'migrate', module: 'migrate', schema: schemas.migrateEventSchema, valid: [{ runId: 'a1b2c3d4-0000-4000-8000-000000000000', windowEndsAt: '2030-03-05T01:00:00Z' }] },
  { name: 'rollback', module: 'rollback', schema: schemas.rollbackEventSchema, valid: [{ target: '-1', dryRun: true }, { target: '202508230001', confirm: '202508230001' }] },
  { name: 'analyze', module: 'analyze', schema: schemas.analyzeEventSchema, valid: [{ source: 'schedule', scheduledTime: '2030-03-05T01:00:00Z' }, { source: 'manual' }] },
  { name: 'index-report', module: 'index-report', schema: schemas.indexReportEventSchema, valid: [{ source: 'schedule', scheduledTime: '2030-03-05T01:30:00Z' }] },
  { name: 'notify', module: 'notify', schema: schemas.notifyEventSchema, valid: [{ kind: 'run_done', stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:w', execution: 'arn:aws:states:us-east-1:123456789012:execution:w:e', startedAt: '2030-03-05T01:00:00Z', state: { run: { runId: 'r' } } }] },
  { name: 'slack-notify', module: 'slack-notify', schema: schemas.snsEventSchema, valid: [{ Records: [snsRecord] }] },
  { name: 'alarm-notify', module: 'alarm-notify', schema: schemas.snsEventSchema, valid: [{ Records: [snsRecord] }] },
];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests++;
    req.resume();
    res.writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'InternalServerErrorException' }).end('{"message":"fuzz: no call may get here"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  Object.assign(process.env, handlerEnv({
    endpoint,
    resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:fuzz',
    secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:fuzz-AbCdEf',
    database: 'fuzz',
  }), {
    OFFPEAK_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:fuzz',
    OFFPEAK_SLACK_WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf',
  });
  secrets.onAnyCommand().resolves({ SecretString: `${endpoint}/slack` });
  sns.onAnyCommand().resolves({ MessageId: 'never' });
});

afterAll(async () => {
  sns.restore();
  secrets.restore();
  await new Promise((resolve) => server?.close(resolve));
});

/**
 * Positive controls, written by hand rather than taken from the schemas under test: events known to be
 * wrong, each with the field path (and what was expected) the refusal must name.
 */
const KNOWN_BAD: Array<{ name: string; event: Json; names: RegExp }> = [
  { name: 'plan', event: { input: {}, startedAt: 'tonight' }, names: /startedAt: expected an ISO 8601 time/ },
  { name: 'plan', event: { startedAt: '2030-03-04T23:00:01Z' }, names: /(^|; |: )input: / },
  { name: 'plan', event: { input: { scheduledTime: '2030-13-45T99:99:99Z' }, startedAt: '2030-03-04T23:00:01Z' }, names: /input\.scheduledTime: expected an ISO 8601 time/ },
  { name: 'plan', event: { input: {}, startedAt: '2030-03-04T23:00:01Z', extra: 1 }, names: /\(event\): .*"extra"/ },
  { name: 'migrate', event: { runId: 'has space' }, names: /runId: expected a run id/ },
  { name: 'migrate', event: { runId: 5 }, names: /runId: / },
  { name: 'migrate', event: { windowEndsAt: 'yesterday' }, names: /windowEndsAt: expected an ISO 8601 time/ },
  { name: 'rollback', event: { target: 'base; DROP TABLE x' }, names: /target: expected a revision id/ },
  { name: 'rollback', event: { target: '-1', confirm: '' }, names: /confirm: expected a revision id/ },
  { name: 'rollback', event: { target: '-1', dryRun: 'yes' }, names: /dryRun: .*boolean/ },
  { name: 'rollback', event: {}, names: /target: / },
  { name: 'analyze', event: { source: 'cron' }, names: /source: / },
  { name: 'analyze', event: { source: 'schedule', scheduledTime: 'yesterday' }, names: /scheduledTime: expected an ISO 8601 time/ },
  { name: 'analyze', event: { source: 'manual', scheduledTime: '2030-03-05T01:00:00Z' }, names: /\(event\): .*"scheduledTime"/ },
  { name: 'index-report', event: {}, names: /source: / },
  { name: 'index-report', event: { source: 'manual', scheduledTime: 'x' }, names: /scheduledTime: expected an ISO 8601 time/ },
  { name: 'notify', event: { kind: 'run_started', stateMachineArn: 'arn:w', execution: 'e', state: {} }, names: /kind: / },
  { name: 'notify', event: { kind: 'run_done', stateMachineArn: 'w', execution: 'e', state: {} }, names: /stateMachineArn: / },
  { name: 'notify', event: { kind: 'run_done', stateMachineArn: 'arn:w', execution: 'e', state: {}, startedAt: 'noon' }, names: /startedAt: expected an ISO 8601 time/ },
  { name: 'slack-notify', event: { Records: [] }, names: /Records: expected at least one SNS record/ },
  { name: 'slack-notify', event: { Records: [{ ...snsRecord, EventSource: 'aws:sqs' }] }, names: /Records\.0\.EventSource: / },
  { name: 'slack-notify', event: { Records: [{ ...snsRecord, Sns: { ...snsRecord.Sns, TopicArn: 'topic' } }] }, names: /Records\.0\.Sns\.TopicArn: / },
  { name: 'slack-notify', event: { Records: [{ ...snsRecord, Sns: { ...snsRecord.Sns, Timestamp: 'now' } }] }, names: /Records\.0\.Sns\.Timestamp: expected an ISO 8601 time/ },
];

const handlerOf = async (module: string) =>
  ((await import(`../../../lambdas/handlers/${module}.ts`)) as { handler: (e: unknown, c: unknown) => Promise<unknown> }).handler;

describe('fuzzed events', () => {
  it.each(KNOWN_BAD.map((c) => [c.name, JSON.stringify(c.event), c] as const))('%s refuses the known-bad %s, naming the field', async (_name, _shown, { name, event, names }) => {
    const handler = await handlerOf(cases.find((c) => c.name === name)!.module);
    const before = requests;
    const error = await handler(event, lambdaContext(`offpeak-${name}`)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error!.message).toMatch(new RegExp(`^invalid ${name} event: `));
    expect(error!.message).toMatch(names);
    expect(requests - before).toBe(0);
  });

  it.each(cases)('$name: the valid events the fuzzer mutates are valid, and an unknown top-level key is refused (an oracle of its own)', ({ schema, valid }) => {
    const rand = seededRandom(SEED);
    for (const event of valid) {
      expect(schema.safeParse(event).success, JSON.stringify(event)).toBe(true);
      for (let i = 0; i < 50; i++) {
        const key = `x_${Math.floor(rand() * 1e9).toString(36)}`;
        expect(schema.safeParse({ ...event, [key]: randomJson(rand) }).success, `seed ${SEED}: ${key}`).toBe(false);
      }
    }
  });

  it.each(cases)('$name refuses 1,000 malformed events with a validation error and touches nothing', async ({ name, module, schema, valid }) => {
    // Prepare
    const handler = await handlerOf(module);
    const seed = SEED + cases.findIndex((c) => c.name === name);
    const events = malformedEvents(schema, valid, seed);
    expect(events).toHaveLength(EVENTS_PER_HANDLER);
    const before = requests;

    // Act
    const outcomes = await Promise.allSettled(events.map((event) => handler(event, lambdaContext(`offpeak-${name}`))));

    // Assess
    outcomes.forEach((outcome, i) => {
      const shown = `seed ${seed}, event ${i}: ${JSON.stringify(events[i])}`;
      expect(outcome.status, shown).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as Error;
      expect(error, shown).toBeInstanceOf(ValidationError);
      expect(error.message, shown).toMatch(new RegExp(`^invalid ${name} event: `));
    });
    expect(requests - before).toBe(0);
    expect(sns.calls()).toHaveLength(0);
    expect(secrets.calls()).toHaveLength(0);
  });

  it('names the field and what was expected', async () => {
    const { handler } = await import('../../../lambdas/handlers/rollback.ts');
    await expect(handler({ target: 'base; DROP TABLE x', dryRun: 'yes' } as never, lambdaContext('offpeak-rollback'))).rejects.toThrow(
      /^invalid rollback event: target: expected a revision id .*; dryRun: .*expected boolean/,
    );
    const { handler: migrate } = await import('../../../lambdas/handlers/migrate.ts');
    await expect(migrate({ runId: 'r', windowEndsAt: 'tonight', extra: 1 } as never, lambdaContext('offpeak-migrate'))).rejects.toThrow(
      /windowEndsAt: expected an ISO 8601 time/,
    );
    expect(requests).toBe(0);
  });
});

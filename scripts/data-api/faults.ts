import { databaseUnavailable, ServiceError, validationError } from './service-error.ts';

/**
 * Fault injection: the failures AWS's Data API produces and a local database never
 * does, so that callers can test their retry paths. Set with
 * `offpeak data-api serve --faults resuming=0.05,unavailable=0.01,lost=0.02 --seed 7`,
 * or at run time with POST /_offpeak/faults. Every random draw comes from one seeded
 * generator, so a seed replays the same faults for the same sequence of calls.
 *
 * | key | value | effect |
 * |---|---|---|
 * | `resuming` | probability | DatabaseResumingException (400) before the call runs |
 * | `pause-after` | ms | the cluster auto-pauses after this long without calls: the next `resume-calls` calls get DatabaseResumingException |
 * | `resume-calls` | count (1) | calls refused while "resuming" after a pause |
 * | `unavailable` | probability | DatabaseUnavailableException (504) before the call runs |
 * | `lost` | probability | the call runs (and commits, outside a transaction), then the connection is dropped without a reply |
 * | `endpoint-disabled` | (flag) | every call gets HttpEndpointNotEnabledException (400) |
 * | `secret-error` | secret ARN (repeatable) | calls with that secretArn get SecretsErrorException (400) |
 */
export interface FaultSpec {
  resuming: number;
  unavailable: number;
  lost: number;
  endpointDisabled: boolean;
  secretErrors: string[];
  pauseAfterMs: number | undefined;
  resumeCalls: number;
}

export const noFaults = (): FaultSpec => ({
  resuming: 0,
  unavailable: 0,
  lost: 0,
  endpointDisabled: false,
  secretErrors: [],
  pauseAfterMs: undefined,
  resumeCalls: 1,
});

const keys = ['resuming', 'unavailable', 'lost', 'endpoint-disabled', 'secret-error', 'pause-after', 'resume-calls'];

/** Parses `resuming=0.05,unavailable=0.01,lost=0.02,endpoint-disabled,secret-error=ARN,pause-after=60000,resume-calls=2`. */
export function parseFaults(text: string): FaultSpec {
  const spec = noFaults();
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? undefined : item.slice(eq + 1);
    const probability = () => {
      const n = Number(value);
      if (value === undefined || value === '' || !Number.isFinite(n) || n < 0 || n > 1) {
        throw new Error(`fault ${key} needs a probability between 0 and 1 (e.g. ${key}=0.05), got ${JSON.stringify(value ?? '')}`);
      }
      return n;
    };
    const count = (min: number) => {
      const n = Number(value);
      if (value === undefined || value === '' || !Number.isInteger(n) || n < min) {
        throw new Error(`fault ${key} needs an integer of at least ${min}, got ${JSON.stringify(value ?? '')}`);
      }
      return n;
    };
    switch (key) {
      case 'resuming':
        spec.resuming = probability();
        break;
      case 'unavailable':
        spec.unavailable = probability();
        break;
      case 'lost':
        spec.lost = probability();
        break;
      case 'endpoint-disabled':
        if (value !== undefined) throw new Error('fault endpoint-disabled takes no value');
        spec.endpointDisabled = true;
        break;
      case 'secret-error':
        if (!value) throw new Error('fault secret-error needs the secret ARN to fail (secret-error=arn:aws:secretsmanager:…)');
        spec.secretErrors.push(value);
        break;
      case 'pause-after':
        spec.pauseAfterMs = count(0);
        break;
      case 'resume-calls':
        spec.resumeCalls = count(1);
        break;
      default:
        throw new Error(`unknown fault ${JSON.stringify(key)}: use ${keys.join(', ')}`);
    }
  }
  return spec;
}

/** The spec back in `--faults` form (empty when no fault is set). */
export function formatFaults(spec: FaultSpec): string {
  const parts: string[] = [];
  if (spec.resuming) parts.push(`resuming=${spec.resuming}`);
  if (spec.pauseAfterMs !== undefined) parts.push(`pause-after=${spec.pauseAfterMs}`, `resume-calls=${spec.resumeCalls}`);
  if (spec.unavailable) parts.push(`unavailable=${spec.unavailable}`);
  if (spec.lost) parts.push(`lost=${spec.lost}`);
  if (spec.endpointDisabled) parts.push('endpoint-disabled');
  for (const arn of spec.secretErrors) parts.push(`secret-error=${arn}`);
  return parts.join(',');
}

/**
 * mulberry32: small, fast, and the same sequence for the same seed on every platform. Exported so
 * other seeded test helpers can share it rather than repeat it.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clusterId = (resourceArn: unknown) => (typeof resourceArn === 'string' ? (resourceArn.split(':').pop() ?? resourceArn) : 'unknown');

export class FaultInjector {
  private spec: FaultSpec;
  private random: () => number;
  private lastCall: number;
  private resumingLeft = 0;

  constructor(
    spec: FaultSpec = noFaults(),
    private seedValue: number = 1,
    private readonly clock: () => number = Date.now,
  ) {
    this.spec = spec;
    this.random = seededRandom(seedValue);
    this.lastCall = clock();
  }

  get seed(): number {
    return this.seedValue;
  }

  get active(): boolean {
    return formatFaults(this.spec) !== '';
  }

  describe() {
    return { faults: formatFaults(this.spec), seed: this.seedValue };
  }

  /** Replaces the faults (and, given a seed, restarts the random sequence). */
  set(spec: FaultSpec, seed?: number) {
    this.spec = spec;
    this.resumingLeft = 0;
    this.lastCall = this.clock();
    if (seed !== undefined) {
      this.seedValue = seed;
      this.random = seededRandom(seed);
    }
  }

  /** The fault a call gets before it runs, if any. */
  before(body: Record<string, unknown>): ServiceError | undefined {
    const now = this.clock();
    const idle = now - this.lastCall;
    this.lastCall = now;
    const { spec } = this;
    if (spec.endpointDisabled) {
      return new ServiceError('HttpEndpointNotEnabledException', 400, `HttpEndpoint is not enabled for cluster ${clusterId(body['resourceArn'])}`);
    }
    if (typeof body['secretArn'] === 'string' && spec.secretErrors.includes(body['secretArn'])) {
      return new ServiceError(
        'SecretsErrorException',
        400,
        `Error fetching secret ${body['secretArn']} : Secrets Manager can't find the specified secret.`,
      );
    }
    if (spec.pauseAfterMs !== undefined && idle >= spec.pauseAfterMs) this.resumingLeft = spec.resumeCalls;
    if (this.resumingLeft > 0) {
      this.resumingLeft--;
      return resuming(body);
    }
    if (spec.resuming > 0 && this.random() < spec.resuming) return resuming(body);
    if (spec.unavailable > 0 && this.random() < spec.unavailable) {
      return databaseUnavailable('The writer instance in the DB cluster is not available. Try again later.');
    }
    return undefined;
  }

  /** Whether to drop this call's reply after it ran. */
  loseReply(): boolean {
    return this.spec.lost > 0 && this.random() < this.spec.lost;
  }
}

const resuming = (body: Record<string, unknown>) =>
  new ServiceError(
    'DatabaseResumingException',
    400,
    `The Aurora DB instance of cluster ${clusterId(body['resourceArn'])} is resuming after being auto-paused. Please wait a few seconds and try again.`,
  );

/** The admin endpoint's body: `{"faults": "resuming=0.1,…", "seed": 7}` (an empty `faults` clears them). */
export function parseFaultsBody(body: unknown): { spec: FaultSpec; seed: number | undefined } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw validationError('POST /_offpeak/faults takes {"faults": "resuming=0.05,…", "seed": N}');
  const { faults, seed } = body as { faults?: unknown; seed?: unknown };
  if (faults !== undefined && typeof faults !== 'string') throw validationError('faults must be a string like "resuming=0.05,lost=0.02"');
  if (seed !== undefined && !Number.isInteger(seed)) throw validationError('seed must be an integer');
  try {
    return { spec: parseFaults(faults ?? ''), seed: seed as number | undefined };
  } catch (error) {
    throw validationError((error as Error).message, error);
  }
}

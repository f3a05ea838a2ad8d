import type { SqlClient } from '../db/client.ts';
import { sql } from '../db/sql.ts';
import { Ledger } from '../migrations/ledger.ts';
import type { LoadedMigration } from '../migrations/model.ts';
import { migrationTables } from '../migrations/planner.ts';
import type { Migrator } from '../migrations/runner.ts';

/**
 * `offpeak doctor`: what would make the first window fail, found before it. Each
 * check returns a finding with its fix; the CLI prints them, the Lambda (a CDK
 * trigger after deploy) throws when any is a problem, so the deploy fails instead.
 */

export type DoctorStatus = 'ok' | 'warn' | 'problem';

export interface DoctorFinding {
  check: string;
  status: DoctorStatus;
  detail: string;
  /** What to do, when the status is not ok. */
  fix?: string | undefined;
}

export interface DoctorReport {
  ok: boolean;
  findings: DoctorFinding[];
}

export interface DoctorOptions {
  client: SqlClient;
  migrator: Migrator;
  ledgerSchema: string;
  /** For the enable-http-endpoint fix when the Data API is off. */
  clusterArn?: string | undefined;
  now?: () => Date;
}

/** The Data API supports these Aurora PostgreSQL minors and later (FACTS.md). */
export const SUPPORTED_ENGINES: ReadonlyArray<{ major: number; minor: number }> = [
  { major: 13, minor: 11 },
  { major: 14, minor: 8 },
  { major: 15, minor: 3 },
  { major: 16, minor: 1 },
  { major: 17, minor: 4 },
];

/** Clock skew above this breaks the lease's expiry and the window arithmetic. */
export const MAX_SKEW_MS = 30_000;

const MIN_LONG_TIMEOUT_MS = 10 * 60_000;

export function engineSupported(versionNum: number): boolean {
  const major = Math.floor(versionNum / 10_000);
  const minor = versionNum % 10_000;
  const rule = SUPPORTED_ENGINES.find((e) => e.major === major);
  if (rule) return minor >= rule.minor;
  return major > Math.max(...SUPPORTED_ENGINES.map((e) => e.major));
}

/** A timeout setting in ms from PostgreSQL's text ('0', '30s', '5min', '1h', '200ms'). */
export function settingMs(text: string): number {
  const m = /^(\d+)\s*(ms|s|min|h|d)?$/.exec(text.trim());
  if (!m) return Number.NaN;
  const unit = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms'];
  return Number(m[1]) * unit;
}

function errorName(error: unknown): string {
  const e = error as { name?: string; serviceCode?: string; cause?: { name?: string } };
  return e.serviceCode ?? e.cause?.name ?? e.name ?? 'Error';
}

async function reachability(o: DoctorOptions): Promise<DoctorFinding> {
  try {
    await o.client.query(sql`SELECT 1 AS ok`);
    return { check: 'reachable', status: 'ok', detail: 'the database answers' };
  } catch (error) {
    const name = errorName(error);
    const message = (error as Error).message;
    if (/HttpEndpointNotEnabled/.test(name) || /HttpEndpointNotEnabled|HTTP endpoint .*not enabled/i.test(message)) {
      return {
        check: 'reachable',
        status: 'problem',
        detail: 'the Data API (HTTP endpoint) is not enabled on the cluster',
        fix: `enable the Data API: aws rds enable-http-endpoint --resource-arn ${o.clusterArn ?? '<cluster ARN>'}`,
      };
    }
    const fix = /Secret|AccessDenied|Forbidden/i.test(name)
      ? 'check the secret ARN, that it holds {"username","password"} for the database, and that the role may read it'
      : /DatabaseNotFound/i.test(name)
        ? 'check databaseName: the database must exist on the cluster'
        : 'check the cluster ARN, region and network; the cluster must be available';
    return { check: 'reachable', status: 'problem', detail: `${name}: ${message}`, fix };
  }
}

async function engine(o: DoctorOptions): Promise<DoctorFinding> {
  const { rows } = await o.client.query<{ num: string; version: string }>(sql`SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version`);
  const num = Number(rows[0]!.num);
  const ok = engineSupported(num);
  return {
    check: 'engine version',
    status: ok ? 'ok' : 'problem',
    detail: `PostgreSQL ${rows[0]!.version}`,
    fix: ok ? undefined : `upgrade to a Data API engine: ${SUPPORTED_ENGINES.map((e) => `${e.major}.${e.minor}+`).join(', ')}`,
  };
}

async function timeouts(o: DoctorOptions): Promise<DoctorFinding[]> {
  const { rows } = await o.client.query<{ st: string; lt: string; it: string }>(
    sql`SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt, current_setting('idle_in_transaction_session_timeout') AS it`,
  );
  const r = rows[0]!;
  const judge = (name: string, text: string, why: string): DoctorFinding => {
    const ms = settingMs(text);
    const ok = ms === 0 || ms >= MIN_LONG_TIMEOUT_MS;
    return {
      check: name,
      status: ok ? 'ok' : 'problem',
      detail: `${text}${ok ? '' : ` (${why})`}`,
      fix: ok ? undefined : `ALTER ROLE CURRENT_USER SET ${name} = 0;   -- or at least 10min`,
    };
  };
  return [
    judge('statement_timeout', r.st, 'CREATE INDEX CONCURRENTLY and ANALYZE run longer than that'),
    judge('lock_timeout', r.lt, 'a concurrent build waits for older transactions; offpeak sets short lock timeouts itself where it wants them'),
    judge('idle_in_transaction_session_timeout', r.it, 'a Data API transaction sits idle between calls'),
  ];
}

async function privileges(o: DoctorOptions, pending: readonly LoadedMigration[]): Promise<DoctorFinding[]> {
  const out: DoctorFinding[] = [];
  const { rows } = await o.client.query<{ db_create: boolean; schema_exists: boolean; schema_create: boolean; stats: boolean; superuser: boolean }>(sql`
    SELECT has_database_privilege(current_database(), 'CREATE') AS db_create,
           n.oid IS NOT NULL AS schema_exists,
           coalesce(has_schema_privilege(n.nspname, 'CREATE'), false) AS schema_create,
           (pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') OR pg_has_role(current_user, 'pg_monitor', 'USAGE')) AS stats,
           (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser
    FROM (SELECT 1) one LEFT JOIN pg_namespace n ON n.nspname = ${o.ledgerSchema}`);
  const p = rows[0]!;
  const ledgerOk = p.schema_exists ? p.schema_create : p.db_create;
  out.push({
    check: 'ledger privileges',
    status: ledgerOk ? 'ok' : 'problem',
    detail: p.schema_exists ? `schema ${o.ledgerSchema} exists; CREATE on it: ${p.schema_create}` : `schema ${o.ledgerSchema} not created yet; CREATE on the database: ${p.db_create}`,
    fix: ledgerOk ? undefined : p.schema_exists ? `GRANT CREATE, USAGE ON SCHEMA ${o.ledgerSchema} TO <role>;` : 'GRANT CREATE ON DATABASE <database> TO <role>;',
  });
  const statsOk = p.stats || p.superuser;
  out.push({
    check: 'stats visibility',
    status: statsOk ? 'ok' : 'warn',
    detail: statsOk ? 'other roles\' sessions and index builds are visible' : 'other roles\' queries show as <insufficient privilege>',
    fix: statsOk ? undefined : 'GRANT pg_read_all_stats TO <role>;   -- or pg_monitor: lets offpeak see what blocks a build',
  });

  const tables = new Map<string, [string, string]>();
  for (const m of pending) for (const t of migrationTables(m, 'up')) tables.set(`${t[0]}.${t[1]}`, t);
  if (tables.size > 0) {
    const { rows: owned } = await o.client.query<{ s: string; t: string; owner: string | null; mine: boolean | null }>(sql`
      SELECT x.s, x.t, pg_get_userbyid(c.relowner) AS owner, pg_has_role(current_user, c.relowner, 'USAGE') AS mine
      FROM jsonb_to_recordset(${sql.json([...tables.values()].map(([s, t]) => ({ s, t })))}::jsonb) AS x(s text, t text)
      LEFT JOIN pg_namespace n ON n.nspname = x.s LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = x.t
      ORDER BY 1, 2`);
    const notMine = owned.filter((r) => r.owner !== null && !r.mine && !p.superuser);
    out.push({
      check: 'table ownership',
      status: notMine.length ? 'problem' : 'ok',
      detail: notMine.length
        ? `not owned by this role: ${notMine.map((r) => `${r.s}.${r.t} (${r.owner})`).join(', ')}`
        : `${owned.length} table(s) the pending migrations touch are this role's (or not created yet)`,
      fix: notMine.length ? `ALTER TABLE … OWNER TO <role>, or GRANT <owner> TO <role>; for: ${notMine.map((r) => `${r.s}.${r.t}`).join(', ')}` : undefined,
    });
  }
  return out;
}

async function extensions(o: DoctorOptions, pending: readonly LoadedMigration[]): Promise<DoctorFinding> {
  const wanted = new Set<string>();
  for (const m of pending) for (const step of m.up) if (step.when) wanted.add(step.when.extensionAvailable);
  for (const m of pending) for (const step of m.up) if (step.kind === 'sql') for (const x of step.sql.matchAll(/CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([a-z0-9_]+)/gi)) wanted.add(x[1]!.toLowerCase());
  if (wanted.size === 0) return { check: 'extensions', status: 'ok', detail: 'the pending migrations need none' };
  const { rows } = await o.client.query<{ name: string }>(sql`SELECT name FROM pg_available_extensions WHERE name IN (SELECT jsonb_array_elements_text(${sql.json([...wanted])}::jsonb))`);
  const missing = [...wanted].filter((w) => !rows.some((r) => r.name === w));
  return {
    check: 'extensions',
    status: missing.length ? 'warn' : 'ok',
    detail: missing.length ? `not available on this server: ${missing.join(', ')} (steps conditioned on them are skipped)` : `available: ${[...wanted].join(', ')}`,
    fix: missing.length ? `install or allow-list ${missing.join(', ')} (Aurora: a supported extension of this engine version)` : undefined,
  };
}

async function ledgerState(o: DoctorOptions, now: Date): Promise<DoctorFinding[]> {
  const ledger = new Ledger(o.client, o.ledgerSchema);
  if (!(await ledger.exists())) return [{ check: 'ledger', status: 'ok', detail: `no ledger yet (schema ${o.ledgerSchema} is created by the first run)` }];
  const out: DoctorFinding[] = [];
  const run = await ledger.latestUnfinishedRun();
  out.push(
    run
      ? {
          check: 'unfinished run',
          status: 'warn',
          detail: `run ${run.runId} (${run.direction} to ${run.target}) is ${run.status} since ${run.startedAt.toISOString()}${run.error ? `: ${run.error}` : ''}`,
          fix: run.status === 'failed' ? 'fix the cause, then start a window run (it resumes), or roll back' : 'the next window resumes it',
        }
      : { check: 'unfinished run', status: 'ok', detail: 'none' },
  );
  const { rows } = await o.client.query<{ owner: string; expires_at: Date | string }>(
    sql`SELECT owner, expires_at FROM ${sql.ident(o.ledgerSchema, 'lease')} WHERE expires_at > now()`,
  );
  out.push(
    rows[0]
      ? { check: 'lease', status: 'warn', detail: `held by ${rows[0].owner} until ${new Date(rows[0].expires_at).toISOString()}`, fix: 'a run is going on; it expires by itself if that run died' }
      : { check: 'lease', status: 'ok', detail: `free (checked ${now.toISOString()})` },
  );
  return out;
}

async function clock(o: DoctorOptions, now: () => Date): Promise<DoctorFinding> {
  const before = now().getTime();
  const { rows } = await o.client.query<{ t: Date | string }>(sql`SELECT now() AS t`);
  const after = now().getTime();
  const skew = new Date(rows[0]!.t).getTime() - (before + after) / 2;
  const ok = Math.abs(skew) <= MAX_SKEW_MS + (after - before) / 2;
  return {
    check: 'clock skew',
    status: ok ? 'ok' : 'problem',
    detail: `database clock ${skew >= 0 ? 'ahead' : 'behind'} by ${Math.abs(Math.round(skew / 1000))} s`,
    fix: ok ? undefined : 'sync this machine\'s clock (NTP): lease expiry and the window end are computed from both clocks',
  };
}

export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
  const now = o.now ?? (() => new Date());
  const findings: DoctorFinding[] = [await reachability(o)];
  if (findings[0]!.status === 'ok') {
    const status = await o.migrator.status();
    const pending = status.pending.map((r) => o.migrator.graph.get(r));
    findings.push(await engine(o), ...(await timeouts(o)), ...(await privileges(o, pending)), await extensions(o, pending), ...(await ledgerState(o, now())), await clock(o, now));
  }
  return { ok: findings.every((f) => f.status !== 'problem'), findings };
}

/** The findings as a table: check, status, detail, and the fix under each problem. */
export function renderDoctorTable(report: DoctorReport): string {
  const width = Math.max(...report.findings.map((f) => f.check.length));
  const lines = report.findings.flatMap((f) => [
    `${f.check.padEnd(width)}  ${f.status.toUpperCase().padEnd(7)}  ${f.detail}`,
    ...(f.fix && f.status !== 'ok' ? [`${' '.repeat(width)}  ${' '.repeat(7)}  fix: ${f.fix}`] : []),
  ]);
  lines.push(report.ok ? 'all checks passed' : `${report.findings.filter((f) => f.status === 'problem').length} problem(s): see the fixes above`);
  return lines.join('\n');
}

/**
 * The rehearsal state machine's notice: what the plan took on the Aurora clone, per migration and per index build,
 * whether it fits the window, and the cost-relevant facts (how long the clone lived, whether it is gone).
 */
import type { RehearsedBuild, UnitTiming } from '../migrations/rehearsal.ts';

export interface RehearsalNotice {
  outcome: 'done' | 'failed';
  database: string;
  /** offpeak-rehearsal-…: the clone's cluster (and instance) identifier. */
  clone: string | null;
  /** Per migration, as the clone's ledger recorded it. */
  units: UnitTiming[];
  builds: RehearsedBuild[];
  totalMs: number;
  window: { minutes: number; fits: boolean } | null;
  samplesRecorded: number;
  /** From the clone's restore call to its deletion calls (about what the clone is billed for); so far, when not deleted. */
  cloneLifetimeMs: number | null;
  /** False when deleting the clone failed: it is still running and costs money until deleted by hand. */
  cloneDeleted: boolean;
  cleanupError: string | null;
  /** What failed, when the rehearsal did. */
  failure: { state: string; error: string; message: string } | null;
  /** The state machine execution, to find its history. */
  execution: string;
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return minutes < 60 ? `${minutes} min ${Math.round((ms % 60_000) / 1000)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const MiB = 1024 * 1024;

/** Under 100 characters, one line (SNS). */
export function rehearsalSubject(n: RehearsalNotice): string {
  const head = n.outcome === 'done' ? `rehearsal done in ${duration(n.totalMs)}` : 'rehearsal FAILED';
  const fit = n.window && n.outcome === 'done' ? (n.window.fits ? ', fits the window' : ', does NOT fit the window') : '';
  const clone = n.cloneDeleted ? '' : ', CLONE NOT DELETED';
  return `offpeak ${n.database}: ${head}${fit}${clone}`.slice(0, 99);
}

export function renderRehearsalText(n: RehearsalNotice): string {
  const lines: string[] = [rehearsalSubject(n), ''];
  if (!n.cloneDeleted) {
    lines.push(`ACTION NEEDED: the clone ${n.clone ?? '(unknown)'} could not be deleted (${n.cleanupError ?? 'unknown error'}); it keeps costing until you delete it:`);
    lines.push(`  aws rds delete-db-instance --db-instance-identifier ${n.clone} --skip-final-snapshot`);
    lines.push(`  aws rds delete-db-cluster --db-cluster-identifier ${n.clone} --skip-final-snapshot`, '');
  }
  if (n.failure) lines.push(`failed at "${n.failure.state}": ${n.failure.error}: ${n.failure.message}`, '');
  if (n.units.length) {
    lines.push('migrations on the clone:');
    for (const u of n.units) lines.push(`  ${u.revision}  ${duration(u.durationMs).padStart(12)}  ${u.description}`);
    lines.push(`total ${duration(n.totalMs)}${n.window ? `: ${n.window.fits ? 'fits' : 'does NOT fit'} the ${n.window.minutes}-minute window` : ''}`, '');
  } else if (n.outcome === 'done') lines.push('nothing was pending: the clone was already at head', '');
  if (n.builds.length) {
    lines.push('index builds:');
    for (const b of n.builds) lines.push(`  ${b.indexName ?? '?'} (${b.accessMethod})  ${(b.bytes / MiB).toFixed(1)} MiB in ${duration(b.seconds * 1000)}`);
    lines.push('');
  }
  lines.push(`calibration: ${n.samplesRecorded} build sample(s) recorded in the production ledger for pre-flight`);
  const life = n.cloneLifetimeMs === null ? '' : n.cloneDeleted ? `, lived ${duration(n.cloneLifetimeMs)}` : `, alive for ${duration(n.cloneLifetimeMs)} so far`;
  lines.push(`clone: ${n.clone ?? 'not created'}${life}${n.cloneDeleted ? ', deleted' : ''}`);
  lines.push(`execution: ${n.execution}`);
  return `${lines.join('\n')}\n`;
}

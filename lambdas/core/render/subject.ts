/**
 * The SNS/email subject: `offpeak: 3 findings on appdb (2 unused, 1 invalid)`.
 * SNS wants UTF-8 with no line breaks or control characters and under 100 characters;
 * we count UTF-16 units, never fewer than characters, and shorten the kind list
 * before the database name.
 */
import type { IndexHealthReport } from '../health/report.ts';
import { SNS_SUBJECT_MAX_CHARS } from './limits.ts';
import { clipUnits, oneLine, pluralize } from './format.ts';
import { kindCounts, summarize } from './summary.ts';

/** The database name keeps at least this much before kinds are dropped to make room. */
const MIN_DATABASE_CHARS = 24;

export function renderSubject(report: IndexHealthReport): string {
  const summary = summarize(report);
  const database = oneLine(report.database).trim() || '(unnamed database)';
  if (summary.total === 0) {
    const prefix = 'offpeak: no findings on ';
    return prefix + clipUnits(database, SNS_SUBJECT_MAX_CHARS - prefix.length);
  }
  const prefix = `offpeak: ${pluralize(summary.total, 'finding')} on `;
  const kinds = kindCounts(summary);
  const databaseFloor = Math.min(database.length, MIN_DATABASE_CHARS);
  let suffix = '';
  for (let k = kinds.length; k > 0; k -= 1) {
    const candidate = ` (${kinds.slice(0, k).join(', ')}${k < kinds.length ? ', …' : ''})`;
    if (prefix.length + databaseFloor + candidate.length <= SNS_SUBJECT_MAX_CHARS) {
      suffix = candidate;
      break;
    }
  }
  return prefix + clipUnits(database, SNS_SUBJECT_MAX_CHARS - prefix.length - suffix.length) + suffix;
}

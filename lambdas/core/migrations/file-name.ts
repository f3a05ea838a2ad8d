/**
 * The one migration file-name rule: `YYYYMMDDHHMM_short_name.ts`, a real UTC timestamp then a snake_case
 * short name (lower-case letters and digits, words joined by single underscores, at most 60 characters).
 *
 * `offpeak new`, `revision`, `merge` and `squash` write names that pass it; the loader and the registry
 * use `isMigrationModule` to pick the files; `check` and `lint` report a name that breaks it.
 */

export const SHORT_NAME_MAX_LENGTH = 60;

const SHORT_NAME = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
const FILE_NAME = /^(\d{12})_(.+)\.ts$/;

/** The files the directory loader treats as migrations: `*.ts`, not `*.d.ts`, not starting with `_` or `.`. */
export function isMigrationModule(name: string): boolean {
  return name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.startsWith('_') && !name.startsWith('.');
}

/** Why `name` is not a valid short name, or undefined. */
export function shortNameProblem(name: string): string | undefined {
  if (!SHORT_NAME.test(name)) {
    return `short name ${JSON.stringify(name)} is not snake_case: use lower-case letters and digits, words joined by single underscores, starting with a letter (e.g. add_orders_user_id_index)`;
  }
  if (name.length > SHORT_NAME_MAX_LENGTH) return `short name ${JSON.stringify(name)} is longer than ${SHORT_NAME_MAX_LENGTH} characters`;
  return undefined;
}

/** Why `stamp` is not a real YYYYMMDDHHMM timestamp (year 2000 or later), or undefined. */
export function revisionStampProblem(stamp: string): string | undefined {
  if (!/^\d{12}$/.test(stamp)) return `${JSON.stringify(stamp)} is not a 12-digit timestamp YYYYMMDDHHMM`;
  const [y, mo, d, h, mi] = [stamp.slice(0, 4), stamp.slice(4, 6), stamp.slice(6, 8), stamp.slice(8, 10), stamp.slice(10, 12)].map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi));
  if (y < 2000 || h > 23 || mi > 59 || date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) {
    return `the timestamp ${stamp} is not a real date and time`;
  }
  return undefined;
}

/** Why a file name breaks the rule, or undefined when it is `YYYYMMDDHHMM_short_name.ts`. */
export function migrationFileNameProblem(fileName: string): string | undefined {
  const m = FILE_NAME.exec(fileName);
  if (!m) return /^\d{12}_/.test(fileName) ? 'does not end in .ts' : 'does not start with a 12-digit timestamp YYYYMMDDHHMM_';
  return revisionStampProblem(m[1]!) ?? shortNameProblem(m[2]!);
}

/** `YYYYMMDDHHMM_short_name.ts`; throws on a stamp or name the rule refuses, with the reason. */
export function migrationFileName(stamp: string, shortName: string): string {
  const name = `${stamp}_${shortName}.ts`;
  const problem = migrationFileNameProblem(name);
  if (problem) throw new RangeError(problem);
  return name;
}

/** `YYYYMMDDHHMM` in UTC, so two people in different zones never produce out-of-order names. */
export function revisionStamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}`;
}

/** The stamp one minute after `stamp`. */
export function nextRevisionStamp(stamp: string): string {
  const d = new Date(Date.UTC(+stamp.slice(0, 4), +stamp.slice(4, 6) - 1, +stamp.slice(6, 8), +stamp.slice(8, 10), +stamp.slice(10, 12) + 1));
  return revisionStamp(d);
}

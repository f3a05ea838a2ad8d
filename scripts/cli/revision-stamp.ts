/** `YYYYMMDDHHMM` in UTC: the prefix of a migration file name and of a revision that `new` or `squash` writes. */
export function revisionStamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}`;
}

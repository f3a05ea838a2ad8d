import type { OffpeakWindow } from '../core/window.ts';
import { WEEKDAYS } from '../core/window.ts';

/**
 * In AWS the Scheduler decides when a window opens; the handlers only know when it
 * ends. This turns [endsAt − minutes, endsAt) into the runner's OffpeakWindow (in
 * UTC, on the weekday it opens), so the runner itself reports `window_closed`.
 * The start is floored to the minute, so the window never ends early.
 */
export function windowEndingAt(endsAt: Date, minutes: number): OffpeakWindow {
  const start = new Date(Math.floor((endsAt.getTime() - minutes * 60_000) / 60_000) * 60_000);
  const hh = String(start.getUTCHours()).padStart(2, '0');
  const mm = String(start.getUTCMinutes()).padStart(2, '0');
  return {
    start: `${hh}:${mm}`,
    durationMinutes: Math.ceil((endsAt.getTime() - start.getTime()) / 60_000),
    timeZone: 'UTC',
    days: [WEEKDAYS[start.getUTCDay()]!],
  };
}

/**
 * Windows a run has been open across: the one it started in, plus one for each
 * later day on which a window opens (`days`, from the window cron's day-of-week).
 * Counted by UTC day, which is what an alarm on "unfinished for N windows" needs.
 */
export function windowsSpanned(startedAt: Date, now: Date, days: ReadonlySet<string>): number {
  let count = 1;
  const day = new Date(Date.UTC(startedAt.getUTCFullYear(), startedAt.getUTCMonth(), startedAt.getUTCDate() + 1));
  for (; day.getTime() <= now.getTime(); day.setUTCDate(day.getUTCDate() + 1)) {
    if (days.has(WEEKDAYS[day.getUTCDay()]!)) count++;
  }
  return count;
}

/**
 * The weekdays an EventBridge Scheduler cron fires on, from its day-of-week field
 * (`MON-FRI`, `SAT,SUN`, `2-6`, `*`, `?`); every day when the field says nothing simpler.
 */
export function cronWeekdays(cron: string): string[] {
  const fields = /^cron\((.+)\)$/.exec(cron.trim())?.[1]?.trim().split(/\s+/) ?? [];
  const field = fields[4] ?? '*';
  const names = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
  const index = (token: string): number | undefined => {
    const n = Number(token);
    if (Number.isInteger(n) && n >= 1 && n <= 7) return n - 1;
    const i = names.indexOf(token.toUpperCase());
    return i < 0 ? undefined : i;
  };
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const [from, to] = part.split('-');
    const a = index(from ?? '');
    const b = to === undefined ? a : index(to);
    if (a === undefined || b === undefined) return [...WEEKDAYS];
    for (let i = a; ; i = (i + 1) % 7) {
      out.add(i);
      if (i === b) break;
    }
  }
  return [...out].sort().map((i) => WEEKDAYS[i]!);
}

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

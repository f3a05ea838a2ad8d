/**
 * The off-peak window: pure, with the clock injected (pass `now`).
 *
 * A window opens at local wall-clock time `start` ('HH:MM') in `timeZone` (IANA, e.g. 'Europe/Moscow')
 * on each of `days` (the local weekday it *opens*; default every day) and stays open for
 * `durationMinutes` of elapsed time, so a window may run past midnight and lasts its full length
 * across a DST change. A start time that does not exist on a spring-forward day is shifted forward by
 * the gap's length (02:30 → 03:30); one that occurs twice on a fall-back day opens at the first occurrence
 * (as Temporal's 'compatible' disambiguation does). Time zones use Intl only.
 */
import { ConfigError } from './errors.ts';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface OffpeakWindow {
  /** Local opening time, 'HH:MM' (24 h). */
  start: string;
  durationMinutes: number;
  /** IANA time zone. */
  timeZone: string;
  /** Local weekdays on which the window opens; default all. */
  days?: readonly Weekday[];
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        weekday: 'short',
      });
    } catch (error) {
      throw new ConfigError(`unknown time zone ${JSON.stringify(timeZone)}: use an IANA name such as Europe/Moscow`, { cause: error });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

function localParts(instant: number, timeZone: string): LocalParts {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  return {
    year: Number(parts['year']),
    month: Number(parts['month']),
    day: Number(parts['day']),
    hour: Number(parts['hour']),
    minute: Number(parts['minute']),
    second: Number(parts['second']),
    weekday: WEEKDAYS.indexOf(String(parts['weekday']).toLowerCase().slice(0, 3) as Weekday),
  };
}

/** Offset (ms) of the zone from UTC at `instant`. */
function offsetAt(instant: number, timeZone: string): number {
  const p = localParts(instant, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/** The instant at which local wall-clock time y-m-d h:m occurs ('compatible' disambiguation). */
function instantOf(y: number, m: number, d: number, h: number, min: number, timeZone: string): number {
  const wall = Date.UTC(y, m - 1, d, h, min);
  // The offset just before and just after: they differ only around a transition.
  const before = offsetAt(wall - 86_400_000 / 2, timeZone);
  const after = offsetAt(wall + 86_400_000 / 2, timeZone);
  const candidates = [...new Set([before, after])].map((o) => wall - o).filter((t) => wall === t + offsetAt(t, timeZone));
  if (candidates.length > 0) return Math.min(...candidates); // first occurrence of a repeated time
  // In a gap: shift forward by the gap's length, like Temporal's 'compatible'.
  return wall - before;
}

function parseStart(start: string): { hour: number; minute: number } {
  const match = /^(\d{1,2}):(\d{2})$/.exec(start);
  const hour = Number(match?.[1]);
  const minute = Number(match?.[2]);
  if (!match || hour > 23 || minute > 59) throw new ConfigError(`window start ${JSON.stringify(start)} must be HH:MM (24 h)`);
  return { hour, minute };
}

export function validateWindow(window: OffpeakWindow): void {
  parseStart(window.start);
  formatter(window.timeZone);
  if (!(window.durationMinutes > 0 && window.durationMinutes < 7 * 24 * 60)) {
    throw new ConfigError(`window durationMinutes must be between 1 and ${7 * 24 * 60 - 1}, got ${window.durationMinutes}`);
  }
  for (const d of window.days ?? []) {
    if (!WEEKDAYS.includes(d)) throw new ConfigError(`window day ${JSON.stringify(d)} must be one of ${WEEKDAYS.join(', ')}`);
  }
}

/** Openings (as [open, close) instants) whose local start date is within `daysBack`..`daysAhead` of `now`'s local date. */
function openings(window: OffpeakWindow, now: Date, daysBack: number, daysAhead: number): Array<{ open: number; close: number }> {
  validateWindow(window);
  const { hour, minute } = parseStart(window.start);
  const today = localParts(now.getTime(), window.timeZone);
  const result: Array<{ open: number; close: number }> = [];
  for (let offset = -daysBack; offset <= daysAhead; offset++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    const weekday = WEEKDAYS[date.getUTCDay()]!;
    if (window.days && !window.days.includes(weekday)) continue;
    const open = instantOf(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), hour, minute, window.timeZone);
    result.push({ open, close: open + window.durationMinutes * 60_000 });
  }
  return result;
}

function current(window: OffpeakWindow, now: Date): { open: number; close: number } | undefined {
  const t = now.getTime();
  return openings(window, now, 8, 0).filter((o) => o.open <= t && t < o.close).sort((a, b) => b.close - a.close)[0];
}

export function isOpen(window: OffpeakWindow, now: Date): boolean {
  return current(window, now) !== undefined;
}

/** When the window that is open at `now` closes; undefined when it is closed. */
export function closesAt(window: OffpeakWindow, now: Date): Date | undefined {
  const o = current(window, now);
  return o ? new Date(o.close) : undefined;
}

/** The next opening strictly after `now` (or now's window's opening if open). */
export function nextOpening(window: OffpeakWindow, now: Date): Date {
  const open = current(window, now);
  if (open) return new Date(open.open);
  const t = now.getTime();
  const next = openings(window, now, 0, 8).find((o) => o.open > t);
  if (!next) throw new ConfigError('window has no opening day');
  return new Date(next.open);
}

import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { closesAt, isOpen, nextOpening, type OffpeakWindow } from '../../../lambdas/core/window.ts';

const at = (iso: string) => new Date(iso);

describe('off-peak window', () => {
  const moscow: OffpeakWindow = { start: '02:00', durationMinutes: 180, timeZone: 'Europe/Moscow' };

  it('opens and closes at local time (Moscow is UTC+3, no DST)', () => {
    expect(isOpen(moscow, at('2025-03-10T22:59:00Z'))).toBe(false);
    expect(isOpen(moscow, at('2025-03-10T23:00:00Z'))).toBe(true);
    expect(closesAt(moscow, at('2025-03-11T00:30:00Z'))).toEqual(at('2025-03-11T02:00:00Z'));
    expect(isOpen(moscow, at('2025-03-11T02:00:00Z'))).toBe(false);
    expect(closesAt(moscow, at('2025-03-11T02:00:00Z'))).toBeUndefined();
    expect(nextOpening(moscow, at('2025-03-11T02:00:00Z'))).toEqual(at('2025-03-11T23:00:00Z'));
  });

  it('runs past midnight and honours the weekday it opens on', () => {
    const fridayNight: OffpeakWindow = { start: '23:00', durationMinutes: 120, timeZone: 'UTC', days: ['fri'] };
    expect(isOpen(fridayNight, at('2025-03-15T00:30:00Z'))).toBe(true); // Saturday 00:30, opened Friday
    expect(isOpen(fridayNight, at('2025-03-15T23:30:00Z'))).toBe(false); // Saturday night
    expect(nextOpening(fridayNight, at('2025-03-15T23:30:00Z'))).toEqual(at('2025-03-21T23:00:00Z'));
  });

  it('keeps its full length across a DST change, and handles a start inside the spring-forward gap', () => {
    const berlin: OffpeakWindow = { start: '02:30', durationMinutes: 60, timeZone: 'Europe/Berlin' };
    // 2025-03-30: clocks jump 02:00 → 03:00 CET→CEST; 02:30 does not exist, so it shifts by the gap to 03:30 local (01:30Z).
    expect(nextOpening(berlin, at('2025-03-29T23:00:00Z'))).toEqual(at('2025-03-30T01:30:00Z'));
    expect(closesAt(berlin, at('2025-03-30T01:40:00Z'))).toEqual(at('2025-03-30T02:30:00Z'));
    // 2025-10-26: 02:30 happens twice; the window opens at the first (00:30Z) and lasts 60 elapsed minutes.
    expect(nextOpening(berlin, at('2025-10-25T22:00:00Z'))).toEqual(at('2025-10-26T00:30:00Z'));
    expect(closesAt(berlin, at('2025-10-26T01:00:00Z'))).toEqual(at('2025-10-26T01:30:00Z'));
  });

  it('follows US DST in New York', () => {
    const ny: OffpeakWindow = { start: '01:00', durationMinutes: 240, timeZone: 'America/New_York' };
    expect(nextOpening(ny, at('2025-01-15T12:00:00Z'))).toEqual(at('2025-01-16T06:00:00Z')); // EST, UTC-5
    expect(nextOpening(ny, at('2025-07-15T12:00:00Z'))).toEqual(at('2025-07-16T05:00:00Z')); // EDT, UTC-4
  });

  it('refuses bad configuration clearly', () => {
    expect(() => isOpen({ ...moscow, timeZone: 'Mars/Olympus' }, new Date())).toThrow(ConfigError);
    expect(() => isOpen({ ...moscow, start: '25:00' }, new Date())).toThrow(/HH:MM/);
    expect(() => isOpen({ ...moscow, durationMinutes: 0 }, new Date())).toThrow(/durationMinutes/);
  });
});

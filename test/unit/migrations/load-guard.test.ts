import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { formatLoadLimit, judgeLoad, overLimit, parseLoadLimit } from '../../../lambdas/core/migrations/load-guard.ts';

describe('load limits: parsing', () => {
  it('reads active and waiting in any order, and cancel-builds on a critical limit', () => {
    expect(parseLoadLimit('active=8', '--max-load')).toEqual({ active: 8 });
    expect(parseLoadLimit('active=8,waiting=4', '--max-load')).toEqual({ active: 8, waiting: 4 });
    expect(parseLoadLimit(' waiting=0 , active=12 ', '--max-load')).toEqual({ active: 12, waiting: 0 });
    expect(parseLoadLimit('active=40,cancel-builds', '--critical-load', { critical: true })).toEqual({ active: 40, cancelBuilds: true });
  });

  it.each([
    ['', '--max-load', /--max-load "": empty; expected active=N\[,waiting=M\]/],
    ['active=', '--max-load', /active must be a whole number of sessions \(0 or more\), got ""/],
    ['active=-1', '--max-load', /active must be a whole number.*got "-1"/],
    ['active=2.5', '--max-load', /got "2.5"/],
    ['active=8,busy=3', '--max-load', /"busy=3" is not active=N, waiting=M; expected active=N\[,waiting=M\], e.g. active=8,waiting=4/],
    ['active=8,active=9', '--max-load', /active is given twice/],
    ['cancel-builds', '--critical-load', /no threshold given; expected active=N\[,waiting=M\]\[,cancel-builds\]/],
    ['active=8,cancel-builds', '--max-load', /cancel-builds belongs to --critical-load/],
    ['8', 'context maxLoad', /context maxLoad "8": "8" is not active=N/],
  ])('refuses %j for %s, naming the value and the expected form', (text, option, message) => {
    const critical = option === '--critical-load';
    expect(() => parseLoadLimit(text, option, { critical })).toThrow(ConfigError);
    expect(() => parseLoadLimit(text, option, { critical })).toThrow(message);
  });

  it('formats a limit back to its option text', () => {
    expect(formatLoadLimit(parseLoadLimit('waiting=3,active=7,cancel-builds', 'x', { critical: true }))).toBe('active=7,waiting=3,cancel-builds');
  });
});

describe('load limits: the decision', () => {
  const max = { active: 8, waiting: 4 };
  const critical = { active: 40 };

  it('is over a limit only strictly above a threshold, and says by how much', () => {
    expect(overLimit({ active: 8, waiting: 4 }, max)).toBeUndefined();
    expect(overLimit({ active: 12, waiting: 4 }, max)).toBe('active=12 > 8');
    expect(overLimit({ active: 12, waiting: 5 }, max)).toBe('active=12 > 8, waiting=5 > 4');
    expect(overLimit({ active: 0, waiting: 99 }, { active: 1 })).toBeUndefined();
    expect(overLimit({ active: 99, waiting: 99 }, undefined)).toBeUndefined();
  });

  it('critical wins over max; below both goes on', () => {
    expect(judgeLoad({ active: 3, waiting: 0 }, { maxLoad: max, criticalLoad: critical })).toEqual({ level: 'ok' });
    expect(judgeLoad({ active: 12, waiting: 0 }, { maxLoad: max, criticalLoad: critical })).toEqual({ level: 'max', reason: 'active=12 > 8' });
    expect(judgeLoad({ active: 41, waiting: 9 }, { maxLoad: max, criticalLoad: critical })).toEqual({ level: 'critical', reason: 'active=41 > 40' });
    expect(judgeLoad({ active: 41, waiting: 0 }, { criticalLoad: critical })).toEqual({ level: 'critical', reason: 'active=41 > 40' });
    expect(judgeLoad({ active: 41, waiting: 0 }, {})).toEqual({ level: 'ok' });
  });
});

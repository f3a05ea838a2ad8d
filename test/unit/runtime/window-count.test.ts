import { describe, expect, it } from 'vitest';
import { cronWeekdays, windowsSpanned } from '../../../lambdas/runtime/window.ts';

describe('counting windows for the "run unfinished" alarm', () => {
  it('reads the weekdays of a Scheduler cron', () => {
    expect(cronWeekdays('cron(0 2 ? * MON-FRI *)')).toEqual(['mon', 'tue', 'wed', 'thu', 'fri']);
    expect(cronWeekdays('cron(30 1 ? * SAT,SUN *)')).toEqual(['sun', 'sat']);
    expect(cronWeekdays('cron(0 2 ? * 1 *)')).toEqual(['sun']);
    expect(cronWeekdays('cron(0 1 * * ? *)')).toHaveLength(7);
    expect(cronWeekdays('cron(0 2 ? * FRI-MON *)')).toEqual(['sun', 'mon', 'fri', 'sat']);
  });

  it('counts the window a run started in and each later window day', () => {
    const weekdays = new Set(['mon', 'tue', 'wed', 'thu', 'fri']);
    // Started Friday 2030-03-08; now the next Tuesday: Fri, Mon, Tue.
    expect(windowsSpanned(new Date('2030-03-08T02:00:00Z'), new Date('2030-03-12T02:00:00Z'), weekdays)).toBe(3);
    expect(windowsSpanned(new Date('2030-03-08T02:00:00Z'), new Date('2030-03-08T03:00:00Z'), weekdays)).toBe(1);
  });
});

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { MigrationEvent } from '../../../lambdas/core/migrations/events.ts';
import { createProgress } from '../../../scripts/cli/progress.ts';

function capture(isTTY: boolean) {
  let text = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    }),
    { isTTY, columns: 120 },
  );
  return { stream, text: () => text };
}

const progress = (blocksDone: number, phase = 'building index: scanning table'): MigrationEvent => ({
  event: 'index_progress',
  runId: 'run1',
  revision: 'r1',
  step: 0,
  index: 'idx_users_email',
  phase,
  blocksDone,
  blocksTotal: 200,
  tuplesDone: null,
  tuplesTotal: null,
});
const started: MigrationEvent = { event: 'step_started', runId: 'run1', revision: 'r1', direction: 'up', step: 0, description: 'create index idx_users_email on users', mode: 'standalone' };
const done: MigrationEvent = { event: 'migration_done', runId: 'run1', revision: 'r1', direction: 'up', durationMs: 1500 };

describe('index build progress', () => {
  it('redraws one bar line on a TTY with the phase and blocks done of total, then clears it', () => {
    // Prepare
    const out = capture(true);
    const listener = createProgress(out.stream);

    // Act
    for (const e of [started, progress(50), progress(100), done]) listener(e);
    listener.finish();

    // Assess
    const text = out.text();
    expect(text).toContain('  step 1: create index idx_users_email on users (outside a transaction)\n');
    expect(text).toContain('\r\x1b[2K  [######------------------]  25% idx_users_email: building index: scanning table blocks 50/200');
    expect(text).toContain('\r\x1b[2K  [############------------]  50% idx_users_email: building index: scanning table blocks 100/200');
    // the bar is wiped before the next line, so the log stays readable
    expect(text.endsWith('blocks 100/200\r\x1b[2Kdone r1 in 1.5 s\n')).toBe(true);
  });

  it('prints plain lines elsewhere, one per phase, with no control characters', () => {
    // Prepare
    const out = capture(false);
    const listener = createProgress(out.stream);

    // Act
    for (const e of [started, progress(50), progress(100), progress(150, 'building index: loading tuples in tree'), done]) listener(e);
    listener.finish();

    // Assess
    expect(out.text()).toBe(
      [
        '  step 1: create index idx_users_email on users (outside a transaction)',
        '  idx_users_email: building index: scanning table, blocks 50/200',
        '  idx_users_email: building index: loading tuples in tree, blocks 150/200',
        'done r1 in 1.5 s',
        '',
      ].join('\n'),
    );
  });
});

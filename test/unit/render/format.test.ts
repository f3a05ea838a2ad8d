import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { clip, formatAge, oneLine, prettySize, textTable } from '../../../lambdas/core/render/format.ts';
import { jsonStringCost, truncateToCost, utf8Cost } from '../../../lambdas/core/render/text-budget.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';

describe('prettySize', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.dispose();
  });

  it('prints sizes exactly as PostgreSQL pg_size_pretty does, across every unit boundary', async () => {
    // Prepare: around each limit (10 kB for bytes, then 20 units minus rounding) and in between
    const sizes: number[] = [0, 1, 1023, 10_239, 10_240, 10_752, 10_753, 999_999, 8_192 * 1_000];
    for (const unit of [2 ** 10, 2 ** 20, 2 ** 30, 2 ** 40, 2 ** 50]) {
      for (const n of [10, 20 * 1024 - 1, 20 * 1024, 123_457]) sizes.push(Math.min(n * unit, Number.MAX_SAFE_INTEGER));
      sizes.push(unit * 20 - 1, unit * 20 - unit / 2, unit * 20 - unit / 2 - 1);
    }
    // Act
    const { rows } = await db.client.query<{ size: string; pretty: string }>(
      sql`SELECT s AS size, pg_size_pretty(s::bigint) AS pretty
          FROM jsonb_array_elements_text(${sql.json(sizes.map(String))}::jsonb) AS s`,
    );
    // Assess
    expect(rows).toHaveLength(sizes.length);
    for (const row of rows) expect(`${row.size}: ${prettySize(Number(row.size))}`).toBe(`${row.size}: ${row.pretty}`);
  });
});

describe('text helpers', () => {
  it('cuts on code points, never through a surrogate pair', () => {
    expect(clip('ab🚀cd', 4)).toBe('ab🚀…');
    expect(clip('ab🚀cd', 3)).toBe('ab…');
    expect(truncateToCost('a🚀b', 3, utf8Cost)).toBe('a');
    expect(truncateToCost('a🚀b', 5, utf8Cost)).toBe('a🚀');
  });

  it('measures JSON-escaped bytes, including quotes, backslashes and newlines', () => {
    expect(jsonStringCost('a"b\\c\n')).toBe(9);
    expect(jsonStringCost('データ')).toBe(9);
  });

  it('turns line breaks and control characters into spaces', () => {
    expect(oneLine('app\ndb\r\u0007x\u2028y')).toBe('app db x y');
  });

  it('says ages in the largest sensible unit', () => {
    const at = new Date('2025-06-01T00:00:00Z');
    expect(formatAge(new Date('2025-05-31T23:59:30Z'), at)).toBe('less than a minute');
    expect(formatAge(new Date('2025-05-31T23:00:00Z'), at)).toBe('60 minutes');
    expect(formatAge(new Date('2025-05-31T00:00:00Z'), at)).toBe('24 hours');
    expect(formatAge(new Date('2025-05-01T00:00:00Z'), at)).toBe('31 days');
  });

  it('aligns a fixed-width table and clips long cells', () => {
    const lines = textTable(
      [
        { title: 'index', align: 'left', maxWidth: 8, value: (r: { name: string; n: number }) => r.name },
        { title: 'n', align: 'right', value: (r: { name: string; n: number }) => String(r.n) },
      ],
      [{ name: 'idx_a', n: 5 }, { name: 'idx_very_long_name', n: 12_345 }],
    );
    expect(lines).toEqual(['index         n', '--------  -----', 'idx_a         5', 'idx_ver…  12345']);
  });
});

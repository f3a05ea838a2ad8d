import { describe, expect, it } from 'vitest';
import {
  formatDataApiTimestamp,
  fromDataApiField,
  fromDataApiRecords,
  fromFormattedRecords,
  parseDataApiTimestamp,
  toDataApiParameter,
  toDataApiParameters,
} from '../../lambdas/core/db/data-api-values.ts';
import { sql } from '../../lambdas/core/db/sql.ts';

describe('toDataApiParameter', () => {
  it('maps each JS value to the Field member and typeHint the service expects', () => {
    // Prepare
    const date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
    const bytes = new Uint8Array([0, 255]);
    const cases: [unknown, unknown][] = [
      [null, { name: 'p', value: { isNull: true } }],
      [true, { name: 'p', value: { booleanValue: true } }],
      ['x', { name: 'p', value: { stringValue: 'x' } }],
      [42, { name: 'p', value: { longValue: 42 } }],
      [-1.5, { name: 'p', value: { doubleValue: -1.5 } }],
      [2 ** 60, { name: 'p', value: { doubleValue: 2 ** 60 } }],
      [12n, { name: 'p', value: { longValue: 12 } }],
      [2n ** 63n - 1n, { name: 'p', value: { stringValue: '9223372036854775807' }, typeHint: 'DECIMAL' }],
      [date, { name: 'p', value: { stringValue: '2024-01-02 03:04:05.006' }, typeHint: 'TIMESTAMP' }],
      [bytes, { name: 'p', value: { blobValue: bytes } }],
      [sql.uuid('00000000-0000-0000-0000-000000000001'), { name: 'p', value: { stringValue: '00000000-0000-0000-0000-000000000001' }, typeHint: 'UUID' }],
      [sql.decimal('1.10'), { name: 'p', value: { stringValue: '1.10' }, typeHint: 'DECIMAL' }],
      [sql.json([1, 'a']), { name: 'p', value: { stringValue: '[1,"a"]' }, typeHint: 'JSON' }],
      [sql.date('2024-02-29'), { name: 'p', value: { stringValue: '2024-02-29' }, typeHint: 'DATE' }],
      [sql.time('12:30:00'), { name: 'p', value: { stringValue: '12:30:00' }, typeHint: 'TIME' }],
      [sql.timestamp('2024-01-02 03:04:05'), { name: 'p', value: { stringValue: '2024-01-02 03:04:05' }, typeHint: 'TIMESTAMP' }],
      [{ a: { b: 1 } }, { name: 'p', value: { stringValue: '{"a":{"b":1}}' }, typeHint: 'JSON' }],
    ];

    // Act
    const mapped = cases.map(([value]) => toDataApiParameter('p', value as never));

    // Assess
    expect(mapped).toEqual(cases.map(([, expected]) => expected));
  });

  it('rejects arrays, non-finite numbers and invalid dates with what to do instead', () => {
    expect(() => toDataApiParameter('p1', [1, 2] as never)).toThrow(/sql\.json/);
    expect(() => toDataApiParameter('p1', Number.NaN)).toThrow(/sql\.decimal/);
    expect(() => toDataApiParameter('p1', new Date('nope'))).toThrow(/invalid Date/);
    expect(() => toDataApiParameter('p1', new Map() as never)).toThrow(/unsupported type/);
  });

  it('names parameters p1, p2… to match the rendered :p1 placeholders', () => {
    // Prepare
    const { text, values } = sql`SELECT ${1}, ${'a'}`.render((i) => `:p${i}`);

    // Act
    const parameters = toDataApiParameters(values);

    // Assess
    expect(text).toBe('SELECT :p1, :p2');
    expect(parameters.map((p) => p.name)).toEqual(['p1', 'p2']);
  });
});

describe('timestamps', () => {
  it('formats in UTC with milliseconds and parses the service text back as UTC', () => {
    const date = new Date('1999-12-31T23:59:59.999Z');
    expect(formatDataApiTimestamp(date)).toBe('1999-12-31 23:59:59.999');
    expect(parseDataApiTimestamp('1999-12-31 23:59:59.999')).toEqual(date);
    expect(parseDataApiTimestamp('2024-01-02 03:04:05.123456')).toEqual(new Date('2024-01-02T03:04:05.123Z'));
    expect(parseDataApiTimestamp('2024-01-02 03:04:05+02')).toEqual(new Date('2024-01-02T01:04:05Z'));
    expect(parseDataApiTimestamp('infinity')).toBe('infinity');
  });
});

describe('fromDataApiField', () => {
  it('reads each Field member as the canonical value for the column type', () => {
    const cases: [Parameters<typeof fromDataApiField>[0], string, unknown][] = [
      [{ isNull: true }, 'int4', null],
      [{ booleanValue: false }, 'bool', false],
      [{ longValue: 7 }, 'int8', 7],
      [{ stringValue: '9007199254740993' }, 'int8', 9007199254740992],
      [{ doubleValue: 0.5 }, 'float8', 0.5],
      [{ stringValue: '123456789012345678901.5' }, 'numeric', '123456789012345678901.5'],
      [{ doubleValue: 1.25 }, 'numeric', '1.25'],
      [{ stringValue: '2024-01-02 03:04:05.6' }, 'timestamptz', new Date('2024-01-02T03:04:05.600Z')],
      [{ stringValue: '2024-01-02 03:04:05' }, 'timestamp', new Date('2024-01-02T03:04:05Z')],
      [{ stringValue: '2024-01-02' }, 'date', '2024-01-02'],
      [{ stringValue: '{"a":[1]}' }, 'jsonb', { a: [1] }],
      [{ stringValue: '"s"' }, 'json', 's'],
      [{ blobValue: new Uint8Array([1, 2]) }, 'bytea', new Uint8Array([1, 2])],
      [{ stringValue: '[1,2,3]' }, 'vector', '[1,2,3]'],
      [{ arrayValue: { longValues: [1, 2] } }, '_int8', [1, 2]],
      [{ arrayValue: { stringValues: ['2024-01-02 00:00:00'] } }, '_timestamptz', [new Date('2024-01-02T00:00:00Z')]],
      [{ arrayValue: { arrayValues: [{ booleanValues: [true] }, { booleanValues: [false] }] } }, '_bool', [[true], [false]]],
      [{ arrayValue: { stringValues: ['{"x":1}'] } }, 'jsonb[]', [{ x: 1 }]],
    ];
    for (const [field, typeName, expected] of cases) {
      expect(fromDataApiField(field, { typeName }), `${typeName} ${JSON.stringify(field)}`).toEqual(expected);
    }
  });

  it('builds rows keyed by column label', () => {
    const rows = fromDataApiRecords(
      [[{ longValue: 1 }, { isNull: true }]],
      [{ name: 'id', label: 'id', typeName: 'int4' }, { name: 'note', label: 'note', typeName: 'text' }],
    );
    expect(rows).toEqual([{ id: 1, note: null }]);
  });

  it('reads formattedRecords JSON as rows', () => {
    expect(fromFormattedRecords('[{"id":1,"tags":["a"]}]')).toEqual([{ id: 1, tags: ['a'] }]);
    expect(() => fromFormattedRecords('{}')).toThrow(/not a JSON array/);
  });
});

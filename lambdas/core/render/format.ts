/**
 * Small formatting helpers shared by the renderers: sizes the way PostgreSQL prints
 * them, counts, timestamps, ages, and cutting text safely.
 */

const SIZE_UNITS = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'] as const;

/**
 * The same text as PostgreSQL's `pg_size_pretty(bigint)` (PG15+): bytes below 10 kB,
 * then each unit up to 20 of the next minus rounding, half-rounded away from zero.
 * The seed's "unused indexes" view prints sizes this way, so readers can compare.
 */
export function prettySize(bytes: number): string {
  // pg keeps one extra bit while scaling so it can half-round at the end
  let size = Math.trunc(bytes);
  if (Math.abs(size) < 10 * 1024) return `${size} bytes`;
  size = Math.trunc(size / 2 ** 9);
  for (let unit = 1; unit < SIZE_UNITS.length; unit += 1) {
    const last = unit === SIZE_UNITS.length - 1;
    if (last || Math.abs(size) < 20 * 1024 - 1) {
      const rounded = Math.trunc((size + (size < 0 ? -1 : 1)) / 2);
      return `${rounded} ${SIZE_UNITS[unit]}`;
    }
    size = Math.trunc(size / 2 ** 10);
  }
  /* c8 ignore next */
  throw new Error('unreachable');
}

/** A size or a dash when the check has none (table-level findings). */
export function prettySizeOrDash(bytes: number | null): string {
  return bytes === null ? '-' : prettySize(bytes);
}

/** 12,345: grouping makes counters in the tens of millions readable. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 0 });
}

/** 2025-06-01 03:00:00 UTC: unambiguous for a team spread over time zones. */
export function formatTimestamp(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A rough human age: "3 days", "5 hours", "12 minutes", "less than a minute". */
export function formatAge(from: Date, to: Date): string {
  const minutes = Math.floor((to.getTime() - from.getTime()) / 60_000);
  if (minutes < 0) return 'in the future (clock skew?)';
  if (minutes < 1) return 'less than a minute';
  const plural = (n: number, unit: string): string => `${formatCount(n)} ${unit}${n === 1 ? '' : 's'}`;
  if (minutes < 120) return plural(minutes, 'minute');
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return plural(hours, 'hour');
  return plural(Math.floor(hours / 24), 'day');
}

/** "1 finding", "2 findings". */
export function pluralize(n: number, singular: string, plural = `${singular}s`): string {
  return `${formatCount(n)} ${n === 1 ? singular : plural}`;
}

/**
 * Control characters (line breaks included) become spaces: a database or index name is
 * data, and must not be able to break a subject line or a table row.
 */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
}

/** At most `max` code points, ending in "…" when cut; never splits a surrogate pair. */
export function clip(text: string, max: number): string {
  const points = Array.from(text);
  if (points.length <= max) return text;
  if (max <= 1) return '…'.slice(0, Math.max(0, max));
  return `${points.slice(0, max - 1).join('')}…`;
}

/**
 * At most `max` UTF-16 units (JavaScript's `length`, which Slack and SNS limits are safe
 * to count in), ending in "…" when cut, never through a surrogate pair.
 */
export function clipUnits(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max < 1) return '';
  let out = '';
  for (const point of text) {
    if (out.length + point.length > max - 1) break;
    out += point;
  }
  return `${out}…`;
}

/** Width in code points (East Asian wide characters count as one: good enough for names). */
export function textWidth(text: string): number {
  return Array.from(text).length;
}

export interface Column<Row> {
  title: string;
  align: 'left' | 'right';
  /** Cells longer than this are clipped with "…". */
  maxWidth?: number;
  value(row: Row): string;
}

/**
 * A fixed-width text table: a header, a rule, one line per row. Trailing spaces are
 * trimmed, since mail clients and Slack drop them anyway.
 */
export function textTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string[] {
  const cells = rows.map((row) => columns.map((column) => clip(oneLine(column.value(row)), column.maxWidth ?? 64)));
  const widths = columns.map((column, i) =>
    Math.max(textWidth(column.title), ...cells.map((line) => textWidth(line[i] ?? ''))),
  );
  const pad = (text: string, i: number): string => {
    const gap = ' '.repeat(Math.max(0, (widths[i] ?? 0) - textWidth(text)));
    return columns[i]?.align === 'right' ? gap + text : text + gap;
  };
  const line = (values: readonly string[]): string => values.map(pad).join('  ').trimEnd();
  return [
    line(columns.map((column) => column.title)),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.map(line),
  ];
}

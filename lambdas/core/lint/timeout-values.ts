/**
 * Values of the time-valued settings lint follows (lock_timeout, statement_timeout), read as
 * PostgreSQL reads them: a bare number is milliseconds; units us, ms, s, min, h, d; fractions
 * allowed ('1.5s'). 0 switches the timeout off. Undefined for a value PostgreSQL would refuse.
 */
const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

export function timeoutMs(value: string | number | boolean | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase();
  const scale = unit === '' ? 1 : UNIT_MS[unit];
  return scale === undefined ? undefined : Number(m[1]) * scale;
}

/** The Data API cancels a statement after 45 s (FACTS.md): a statement_timeout must end work before it does. */
export const DATA_API_STATEMENT_LIMIT_MS = 45_000;

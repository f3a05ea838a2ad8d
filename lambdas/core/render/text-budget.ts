/**
 * Measuring text against a byte budget. A cost function must be subadditive:
 * cost(a + b) <= cost(a) + cost(b), so a renderer can sum the costs of its pieces
 * and know the whole fits. Both functions here are: UTF-8 and JSON escaping work
 * per character, and a surrogate pair split across two pieces costs more apart.
 */

export type CostFunction = (text: string) => number;

/** Bytes of the text as UTF-8: what SNS counts for a plain message or a standalone email body. */
export const utf8Cost: CostFunction = (text) => Buffer.byteLength(text, 'utf8');

/**
 * Bytes the text takes as the value of a JSON string (without the two quotes): what it
 * costs inside a `MessageStructure: 'json'` envelope, where `"`, `\` and newlines are escaped.
 */
export const jsonStringCost: CostFunction = (text) => Buffer.byteLength(JSON.stringify(text), 'utf8') - 2;

/**
 * The longest prefix of `text` whose cost is at most `maxCost`, cut on a code point
 * boundary (never through a surrogate pair).
 */
export function truncateToCost(text: string, maxCost: number, cost: CostFunction): string {
  if (cost(text) <= maxCost) return text;
  if (maxCost <= 0) return '';
  const points = Array.from(text);
  let low = 0;
  let high = points.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (cost(points.slice(0, mid).join('')) <= maxCost) low = mid;
    else high = mid - 1;
  }
  return points.slice(0, low).join('');
}

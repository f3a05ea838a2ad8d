import type { FunctionCall } from './ast.ts';
import { BUILTIN_FUNCTIONS, EXTENSION_FUNCTIONS, type VolatilityGroups } from './pg-proc-volatility.ts';

/**
 * A function's volatility, as PostgreSQL's catalog records it (pg-proc-volatility.ts, generated
 * from a real server's pg_proc), or as the lint configuration names it. A default that calls a
 * volatile function is evaluated per row, so ADD COLUMN rewrites the table; stable and immutable
 * ones are evaluated once and stored in the catalog (PostgreSQL ≥ 11).
 */
export type Volatility = 'immutable' | 'stable' | 'volatile';

export interface VolatilityVerdict {
  volatility: Volatility | undefined;
  /** Where it came from: the configuration, pg_catalog, or the named extension. */
  source: 'config' | 'builtin' | 'unknown' | { extension: string };
}

function index(groups: VolatilityGroups, into: Map<string, Volatility>): Map<string, Volatility> {
  for (const v of ['immutable', 'stable', 'volatile'] as const) {
    for (const name of groups[v].split(' ')) if (name) into.set(name, v);
  }
  return into;
}

const ORDER: Volatility[] = ['immutable', 'stable', 'volatile'];
const BUILTIN = index(BUILTIN_FUNCTIONS, new Map());
const BY_EXTENSION = new Map<string, { extension: string; volatility: Volatility }>();
for (const [extension, groups] of Object.entries(EXTENSION_FUNCTIONS)) {
  for (const [name, volatility] of index(groups, new Map())) {
    const seen = BY_EXTENSION.get(name);
    if (!seen || ORDER.indexOf(volatility) > ORDER.indexOf(seen.volatility)) BY_EXTENSION.set(name, { extension, volatility });
  }
}

/**
 * Configuration wins (keys `name` or `schema.name`); then pg_catalog, for an unqualified or
 * pg_catalog-qualified call; then the contrib extensions, whatever schema they were installed in.
 */
export function functionVolatility(call: FunctionCall, configured: ReadonlyMap<string, Volatility>): VolatilityVerdict {
  const fromConfig = (call.schema && configured.get(`${call.schema}.${call.name}`)) || configured.get(call.name);
  if (fromConfig) return { volatility: fromConfig, source: 'config' };
  if (call.schema === undefined || call.schema === 'pg_catalog') {
    const builtin = BUILTIN.get(call.name);
    if (builtin) return { volatility: builtin, source: 'builtin' };
  }
  const ext = BY_EXTENSION.get(call.name);
  if (ext) return { volatility: ext.volatility, source: { extension: ext.extension } };
  return { volatility: undefined, source: 'unknown' };
}

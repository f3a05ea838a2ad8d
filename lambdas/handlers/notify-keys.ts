/**
 * The state machine's failing states, keyed as their Catch writes them under
 * `$.failed`: infra names the states with these, the notify handler names the
 * step in a failure notice with them.
 */
export const FailedStateKey = {
  plan: 'Plan pending migrations',
  migrate: 'Advance migrations',
  snapshot: 'Create cluster snapshot',
} as const;

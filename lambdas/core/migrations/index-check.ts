/**
 * One index the end-of-run verification checked, and what is wrong with it. Apart from verification.ts
 * so the notify Lambda can name the problems without bundling the planner.
 */
export interface IndexCheck {
  schema: string;
  name: string;
  /** What the run left: an index it built must be valid, one it dropped absent. */
  expected: 'valid' | 'absent';
  exists: boolean;
  valid: boolean;
}

/** What is wrong with a checked index, or null when it is as the run left it. */
export function indexProblem(check: IndexCheck): string | null {
  const name = `${check.schema}.${check.name}`;
  if (check.expected === 'absent') return check.exists ? `${name} was dropped by the run but exists` : null;
  if (!check.exists) return `${name} is missing`;
  return check.valid ? null : `${name} is INVALID`;
}

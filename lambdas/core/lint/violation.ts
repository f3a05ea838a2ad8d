import type { RuleId, Severity } from './rules.ts';

/** One finding of the linter. `line` is 1-based in `file`; `step` is 1-based within `direction`. */
export interface Violation {
  rule: RuleId;
  severity: Severity;
  message: string;
  /** What to do instead: the safe pattern. */
  hint: string;
  file: string;
  revision?: string;
  direction?: 'up' | 'down';
  step?: number;
  statement?: string;
  line?: number;
}

/** A finding before the file/revision/config are applied. */
export interface Finding {
  rule: RuleId;
  message: string;
  hint: string;
}

import type { z } from 'zod';
import { ValidationError } from '../core/errors.ts';

/** How many issues a validation message lists before it says "and N more". */
const MAX_LISTED_ISSUES = 5;

/**
 * Parses an event with its schema. On failure: a ValidationError naming the
 * handler, each bad field and what was expected; the event itself is never
 * echoed (it may carry anything).
 */
export function parseEvent<S extends z.ZodType>(handlerName: string, schema: S, event: unknown): z.output<S> {
  const result = schema.safeParse(event);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(event)';
    return `${where}: ${issue.message}`;
  });
  const listed = issues.slice(0, MAX_LISTED_ISSUES).join('; ');
  const more = issues.length > MAX_LISTED_ISSUES ? `; and ${issues.length - MAX_LISTED_ISSUES} more` : '';
  return throwValidation(`invalid ${handlerName} event: ${listed}${more}`, issues);
}

function throwValidation(message: string, issues: string[]): never {
  throw new ValidationError(message, { context: { issues: issues.slice(0, MAX_LISTED_ISSUES) } });
}

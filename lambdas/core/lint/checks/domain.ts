import type { Constraint, Node } from 'libpg-query';
import { names } from '../ast.ts';
import type { Scope } from '../unit.ts';

/**
 * ALTER DOMAIN that checks existing values scans every column of the domain's type, holding SHARE
 * on each table (writes wait). ALTER DOMAIN … VALIDATE takes SHARE too (PostgreSQL ≤ 17), so the
 * table-constraint recipe (NOT VALID, then VALIDATE) does not help here.
 */
export function checkDomain(scope: Scope): void {
  if (scope.type !== 'AlterDomainStmt') return;
  const { body } = scope;
  const subtype = body['subtype'] as string;
  const domain = names(body['typeName'] as Node[] | undefined).join('.');
  const c = body['def'] && 'Constraint' in (body['def'] as Node) ? (body['def'] as { Constraint: Constraint }).Constraint : undefined;
  const what =
    subtype === 'C' && c?.contype === 'CONSTR_CHECK' && !c.skip_validation
      ? `ADD CONSTRAINT ${c.conname ?? ''} CHECK`
      : subtype === 'O'
        ? 'SET NOT NULL'
        : subtype === 'V'
          ? `VALIDATE CONSTRAINT ${String(body['name'])}`
          : undefined;
  if (!what) return;
  scope.report(
    'locking/alter-domain-constraint',
    `ALTER DOMAIN ${domain} ${what.replace(/\s+/g, ' ').trim()} checks every value of the domain: each table with a ${domain} column is scanned under SHARE, and writes to those tables wait for the scan`,
    `ALTER DOMAIN ${domain} ADD CONSTRAINT <name> CHECK (…) NOT VALID checks new and updated values only and locks no table${subtype === 'O' ? ' (use CHECK (VALUE IS NOT NULL) for NOT NULL)' : ''}; to check existing rows, add the CHECK to each table column NOT VALID and VALIDATE it there in a later migration (SHARE UPDATE EXCLUSIVE: reads and writes go on)`,
  );
}

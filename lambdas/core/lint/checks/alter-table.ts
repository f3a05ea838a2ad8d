import type { AlterTableCmd, ColumnDef, Constraint, Node } from 'libpg-query';
import { display, functionCalls, names, tableKey } from '../ast.ts';
import { alterCommandLocks, cmdConstraints, isStrong } from '../lock-levels.ts';
import type { Scope } from '../unit.ts';
import { functionVolatility } from '../volatility.ts';
import { inTransactionCheck } from './indexes.ts';
import { checkConcurrentBuild, reportLongStep } from './timeouts.ts';

/** ALTER TABLE on an existing table: rewrites, scans under strong locks, constraints, drops. */
const SERIAL_TYPES = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

export function checkAlterTable(scope: Scope): void {
  if (scope.type !== 'AlterTableStmt' || scope.body['objtype'] !== 'OBJECT_TABLE') return;
  const key = tableKey(scope.body['relation'] as never);
  if (!key) return;
  const { state } = scope;
  state.touched.add(key);
  const cmds = ((scope.body['cmds'] as Node[] | undefined) ?? []).flatMap((c) => ('AlterTableCmd' in c ? [c.AlterTableCmd] : []));
  for (const cmd of cmds) {
    for (const c of cmdConstraints(cmd)) {
      const parent = c.contype === 'CONSTR_FOREIGN' ? tableKey(c.pktable) : undefined;
      if (parent) {
        state.links.push([key, parent]);
        state.touched.add(parent);
      }
    }
  }
  const isNew = scope.isNew(key);
  for (const cmd of cmds) {
    if (cmd.subtype === 'AT_AddColumn' && cmd.def && 'ColumnDef' in cmd.def) state.createdColumns.add(`${key}.${cmd.def.ColumnDef.colname ?? ''}`);
    trackConstraints(scope, key, cmd);
    if (!isNew) checkCommand(scope, key, cmd, cmds);
  }
}

function checkCommand(scope: Scope, key: string, cmd: AlterTableCmd, all: AlterTableCmd[]): void {
  const table = display(key);
  const { state } = scope;
  switch (cmd.subtype) {
    case 'AT_AddColumn': {
      const col = cmd.def && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
      if (col) addColumn(scope, key, col);
      return;
    }
    case 'AT_AlterColumnType':
      scope.report(
        'locking/alter-column-type',
        `ALTER COLUMN ${table}.${cmd.name ?? '?'} TYPE rewrites ${table} and rebuilds its indexes under ACCESS EXCLUSIVE: reads and writes wait for the whole rewrite (binary-coercible changes such as varchar(n) → text or a longer varchar(n) are the exception)`,
        'add a new column of the new type, write both, backfill it in batches, switch reads, then drop the old column in a later release; if the change is binary-coercible, lint.disable this rule with that reason',
      );
      return;
    case 'AT_SetNotNull': {
      const column = cmd.name ?? '';
      if (state.knowledge.notNullChecks.has(`${key}.${column}`)) return;
      if ((state.validatedElsewhere.get(key) ?? []).some((c) => `_${c}_`.includes(`_${column}_`))) return;
      const con = `${table.replaceAll('.', '_')}_${column || 'col'}_not_null`;
      scope.report(
        'locking/set-not-null',
        `SET NOT NULL on ${table}.${column || '?'} scans the whole of ${table} under ACCESS EXCLUSIVE: reads and writes wait for the scan`,
        `first ALTER TABLE ${table} ADD CONSTRAINT ${con} CHECK (${column || 'col'} IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT ${con} ${scope.script ? 'in a separate transaction' : 'in a later migration or a standalone step'} (SHARE UPDATE EXCLUSIVE: reads and writes go on); SET NOT NULL then finds the validated check and skips the scan (drop the check after)`,
      );
      return;
    }
    case 'AT_AddConstraint': {
      const c = cmd.def && 'Constraint' in cmd.def ? cmd.def.Constraint : undefined;
      if (c) newConstraint(scope, key, c, false);
      return;
    }
    case 'AT_ValidateConstraint':
      validate(scope, key, cmd.name ?? '', all);
      return;
    case 'AT_DropColumn': {
      if (!scope.judgesDestructive || state.createdColumns.has(`${key}.${cmd.name ?? ''}`)) return;
      scope.report(
        'destructive/drop-column',
        `DROP COLUMN ${table}.${cmd.name ?? '?'} deletes the column's data, and running clients that still read or write it fail (ORMs that cache columns fail on every query of ${table})`,
        'first deploy code that no longer reads or writes the column (ignore it in the ORM); then drop it in a later migration with a rollbackPlan and lint.disable this rule with the reason, e.g. "unused since release 41"',
      );
      return;
    }
    case 'AT_DropNotNull':
      if (!scope.judgesDestructive || state.createdColumns.has(`${key}.${cmd.name ?? ''}`)) return;
      scope.report(
        'compat/drop-not-null',
        `DROP NOT NULL on ${table}.${cmd.name ?? '?'} lets NULLs into a column that running clients may assume is never NULL`,
        'deploy clients that handle NULL in this column first; then lint.disable this rule with that reason',
      );
      return;
    case 'AT_DetachPartition': {
      const part = cmd.def && 'PartitionCmd' in cmd.def ? cmd.def.PartitionCmd : undefined;
      const partition = display(tableKey(part?.name) ?? '?');
      if (part?.concurrent) {
        inTransactionCheck(scope, `DETACH PARTITION ${partition} CONCURRENTLY`);
        checkConcurrentBuild(scope, `DETACH PARTITION ${partition} CONCURRENTLY`);
        return;
      }
      scope.report(
        'concurrency/detach-partition',
        `DETACH PARTITION ${partition} takes ACCESS EXCLUSIVE on ${table} and ${partition}: reads and writes on both wait`,
        `ALTER TABLE ${table} DETACH PARTITION ${partition} CONCURRENTLY ${scope.script ? 'outside any BEGIN … COMMIT block' : "in a mode: 'standalone' step with lock: 'concurrent'"} (SHARE UPDATE EXCLUSIVE; if it is interrupted, finish with DETACH PARTITION … FINALIZE)`,
      );
      return;
    }
    default:
      return;
  }
}

function addColumn(scope: Scope, key: string, col: ColumnDef): void {
  const table = display(key);
  const column = `${table}.${col.colname ?? '?'}`;
  const constraints = constraintsOf(col);
  const type = names(col.typeName?.names).at(-1)?.toLowerCase();
  const defaultExpr = constraints.find((c) => c.contype === 'CONSTR_DEFAULT')?.raw_expr ?? col.raw_default;
  const generated = constraints.find((c) => c.contype === 'CONSTR_GENERATED');
  const identity = Boolean(col.identity) || constraints.some((c) => c.contype === 'CONSTR_IDENTITY');
  const serial = type !== undefined && SERIAL_TYPES.has(type);

  if (type === 'json') {
    scope.report(
      'compat/json-column',
      `ADD COLUMN ${column} json: json has no equality operator, so SELECT DISTINCT, UNION and GROUP BY over ${table} rows fail once the column is there`,
      `use jsonb: ALTER TABLE ${table} ADD COLUMN ${col.colname ?? 'c'} jsonb`,
    );
  }
  if (serial || identity) {
    const seq = `${table.replaceAll('.', '_')}_${col.colname ?? 'c'}_seq`;
    scope.report(
      'locking/add-column-serial',
      `ADD COLUMN ${column} ${serial ? type : 'GENERATED AS IDENTITY'} gives every existing row a sequence value: ${table} is rewritten under ACCESS EXCLUSIVE, and reads and writes wait for the whole rewrite`,
      `add a plain column (ALTER TABLE ${table} ADD COLUMN ${col.colname ?? 'c'} bigint), CREATE SEQUENCE ${seq} OWNED BY ${table}.${col.colname ?? 'c'}, then ALTER TABLE ${table} ALTER COLUMN ${col.colname ?? 'c'} SET DEFAULT nextval('${seq}') (new rows only, no rewrite); backfill existing rows in batches in later migrations`,
    );
  } else if (generated && (generated.generated_kind ?? 's') === 's') {
    scope.report(
      'locking/add-column-generated-stored',
      `ADD COLUMN ${column} GENERATED ALWAYS AS (…) STORED computes the value for every existing row: ${table} is rewritten under ACCESS EXCLUSIVE, and reads and writes wait for the whole rewrite`,
      `add a plain column (ALTER TABLE ${table} ADD COLUMN ${col.colname ?? 'c'} <type>), fill it for new rows with a BEFORE INSERT OR UPDATE trigger (CREATE TRIGGER takes SHARE ROW EXCLUSIVE, no rewrite), and backfill existing rows in batches in later migrations`,
    );
  } else if (defaultExpr) {
    const verdicts = functionCalls(defaultExpr).map((call) => ({ call, ...functionVolatility(call, scope.config.functions) }));
    const volatile = verdicts.find((v) => v.volatility === 'volatile');
    const unknown = verdicts.find((v) => v.volatility === undefined);
    const later = `add the column without a default (ALTER TABLE ${table} ADD COLUMN ${col.colname ?? 'c'} <type>), then ALTER TABLE ${table} ALTER COLUMN ${col.colname ?? 'c'} SET DEFAULT … (it applies to new rows only: no rewrite), and backfill existing rows in batches in later migrations`;
    if (volatile) {
      const fn = `${volatile.call.schema ? `${volatile.call.schema}.` : ''}${volatile.call.name}()`;
      const from = typeof volatile.source === 'object' ? ` (extension ${volatile.source.extension})` : volatile.source === 'config' ? ' (per the lint configuration)' : '';
      scope.report(
        'locking/add-column-volatile-default',
        `ADD COLUMN ${column} DEFAULT ${fn}: ${volatile.call.name}${from} is volatile, so every existing row gets its own value and ${table} is rewritten under ACCESS EXCLUSIVE; reads and writes wait for the whole rewrite`,
        later,
      );
    } else if (unknown) {
      const fn = `${unknown.call.schema ? `${unknown.call.schema}.` : ''}${unknown.call.name}`;
      scope.report(
        'locking/add-column-unknown-default',
        `ADD COLUMN ${column} DEFAULT ${fn}(…): ${fn} is not a PostgreSQL or contrib function, so offpeak cannot tell its volatility; if it is volatile, ${table} is rewritten under ACCESS EXCLUSIVE`,
        `check it (SELECT provolatile FROM pg_proc WHERE proname = '${unknown.call.name}'): if it is stable or immutable, name it in offpeak.lint.json ("functions": { "${fn}": "stable" }); if volatile, ${later}`,
      );
    }
  }
  const notNull = constraints.some((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY');
  const nullDefault = defaultExpr === undefined || ('A_Const' in defaultExpr && defaultExpr.A_Const.isnull === true);
  if (notNull && nullDefault && !generated && !identity && !serial) {
    scope.report(
      'data/add-required-column',
      `ADD COLUMN ${column} NOT NULL has no default: it fails (23502) on ${table} as soon as the table has a row`,
      `give it a constant default — ALTER TABLE ${table} ADD COLUMN ${col.colname ?? 'c'} <type> NOT NULL DEFAULT <constant> (stored in the catalog, no rewrite) — or add it nullable, backfill in batches, and SET NOT NULL through a validated CHECK (see locking/set-not-null)`,
    );
  }
  for (const c of constraints) newConstraint(scope, key, c, true);
}

function newConstraint(scope: Scope, key: string, c: Constraint, inline: boolean): void {
  const table = display(key);
  const name = c.conname ? ` ${c.conname}` : '';
  if ((c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') && !c.skip_validation) {
    const kind = c.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK';
    const lock = c.contype === 'CONSTR_FOREIGN' ? `SHARE ROW EXCLUSIVE on ${table} and ${display(tableKey(c.pktable) ?? '?')}: writes to both wait` : `ACCESS EXCLUSIVE on ${table}: reads and writes wait`;
    const validateWhere = scope.script ? "in a separate transaction (after the ADD's COMMIT)" : 'in a later migration or a standalone step';
    scope.report(
      'locking/add-constraint-validation',
      `${kind}${name} on ${table} is validated while ADD ${inline ? 'COLUMN' : 'CONSTRAINT'} holds ${lock} for the whole scan of ${table}`,
      inline
        ? `add the column alone, then ALTER TABLE ${table} ADD CONSTRAINT <name> ${kind} (…) NOT VALID, then ALTER TABLE ${table} VALIDATE CONSTRAINT <name> ${validateWhere} (SHARE UPDATE EXCLUSIVE: reads and writes go on)`
        : `ALTER TABLE ${table} ADD CONSTRAINT${name || ' <name>'} ${kind} (…) NOT VALID, then ALTER TABLE ${table} VALIDATE CONSTRAINT${name || ' <name>'} ${validateWhere} (SHARE UPDATE EXCLUSIVE: reads and writes go on)`,
    );
  }
  if ((c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY') && !c.indexname) {
    const kind = c.contype === 'CONSTR_UNIQUE' ? 'UNIQUE' : 'PRIMARY KEY';
    const index = `${scope.config.indexPrefix}${table.replaceAll('.', '_')}_${c.conname ?? 'key'}`;
    scope.report(
      'locking/add-unique-constraint',
      `${kind}${name} on ${table} builds its index while holding ACCESS EXCLUSIVE: reads and writes wait for the whole build`,
      `CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ${index} ON ${table} (…) ${scope.script ? 'outside any BEGIN … COMMIT block' : 'in a standalone step (createIndex({ unique: true, … }))'}, then ALTER TABLE ${table} ADD CONSTRAINT <name> ${kind} USING INDEX ${index} (a brief ACCESS EXCLUSIVE, no build)${kind === 'PRIMARY KEY' ? '; the key columns must already be NOT NULL (see locking/set-not-null), or ADD PRIMARY KEY scans for NULLs' : ''}`,
    );
  }
  if (c.contype === 'CONSTR_EXCLUSION') {
    scope.report(
      'locking/add-exclusion-constraint',
      `EXCLUDE${name} on ${table} builds its index and checks every row while holding ACCESS EXCLUSIVE: reads and writes wait for the whole build`,
      'PostgreSQL has no online way to add an exclusion constraint: it cannot be added NOT VALID, and USING INDEX takes only unique B-tree indexes. Create it on a new table and move the rows there, or add it in a window with writes stopped, with a rollbackPlan and lint.disable naming that window',
    );
  }
}

/** NOT VALID constraints and validated NOT NULL checks, for VALIDATE and SET NOT NULL later on. */
function trackConstraints(scope: Scope, key: string, cmd: AlterTableCmd): void {
  const { state } = scope;
  for (const c of cmd.subtype === 'AT_AddConstraint' ? cmdConstraints(cmd) : []) {
    if (!c.conname) continue;
    const column = notNullColumn(c);
    if (c.skip_validation) {
      state.notValid.set(`${key}|${c.conname}`, { ...(column ? { column } : {}), ...(c.contype === 'CONSTR_FOREIGN' && c.pktable ? { pktable: tableKey(c.pktable) } : {}) });
      if (column) state.knowledge.notValidNotNull.set(`${key}|${c.conname}`, column);
    } else if (column) {
      state.knowledge.notNullChecks.add(`${key}.${column}`);
    }
  }
  if (cmd.subtype === 'AT_ValidateConstraint' && cmd.name) {
    const column = state.knowledge.notValidNotNull.get(`${key}|${cmd.name}`);
    if (column) state.knowledge.notNullChecks.add(`${key}.${column}`);
    else if (!state.notValid.has(`${key}|${cmd.name}`)) state.validatedElsewhere.set(key, [...(state.validatedElsewhere.get(key) ?? []), cmd.name]);
  }
}

function validate(scope: Scope, key: string, constraint: string, all: AlterTableCmd[]): void {
  const table = display(key);
  const { state } = scope;
  const pktable = state.notValid.get(`${key}|${constraint}`)?.pktable;
  const sameStatement = all.filter((c) => c.subtype !== 'AT_ValidateConstraint').flatMap((c) => alterCommandLocks(key, c)).find((l) => l.relation === key && isStrong(l.mode));
  const heldOn = [key, ...(pktable ? [pktable] : [])].map((k) => ({ k, held: state.held.get(k) })).find((h) => h.held);
  const holder = sameStatement ? { k: key, held: { mode: sameStatement.mode, by: 'the same ALTER TABLE' } } : heldOn;
  if (holder?.held) {
    scope.report(
      'locking/validate-in-same-transaction',
      `VALIDATE CONSTRAINT ${constraint} on ${table} runs in the transaction that already holds ${holder.held.mode} on ${display(holder.k)} (from ${holder.held.by}): the validation scan of ${table} runs under that lock, so ${holder.held.mode === 'ACCESS EXCLUSIVE' ? 'reads and writes' : 'writes'} wait for the whole scan`,
      scope.script
        ? `COMMIT after the ADD CONSTRAINT … NOT VALID, then run ALTER TABLE ${table} VALIDATE CONSTRAINT ${constraint} on its own, outside that BEGIN … COMMIT block: alone it takes only SHARE UPDATE EXCLUSIVE, so reads and writes go on during the scan`
        : `move it out of that transaction: into a later migration, or a standalone step (a migration with a standalone step runs each step in its own transaction, so the ADD commits first): sqlStep('ALTER TABLE ${table} VALIDATE CONSTRAINT ${constraint}', { mode: 'standalone', lock: 'none', verify: ${JSON.stringify(validatedQuery(key, constraint))} }); alone it takes only SHARE UPDATE EXCLUSIVE`,
    );
    return;
  }
  reportLongStep(scope, `VALIDATE CONSTRAINT ${constraint}`, key, validatedQuery(key, constraint));
}

/** One row, true once the constraint is validated: the post-condition of a standalone VALIDATE. */
export function validatedQuery(key: string, constraint: string): string {
  return `SELECT convalidated FROM pg_constraint WHERE conrelid = '${key.replaceAll("'", "''")}'::regclass AND conname = '${constraint.replaceAll("'", "''")}'`;
}

function constraintsOf(col: ColumnDef): Constraint[] {
  return (col.constraints ?? []).flatMap((n) => ('Constraint' in n ? [n.Constraint] : []));
}

/** `CHECK (col IS NOT NULL)` → col. */
function notNullColumn(c: Constraint): string | undefined {
  if (c.contype !== 'CONSTR_CHECK' || !c.raw_expr || !('NullTest' in c.raw_expr)) return undefined;
  const test = c.raw_expr.NullTest;
  if (test.nulltesttype !== 'IS_NOT_NULL' || !test.arg || !('ColumnRef' in test.arg)) return undefined;
  return names(test.arg.ColumnRef.fields).at(-1);
}

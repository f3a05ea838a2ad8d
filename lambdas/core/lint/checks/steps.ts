import type { Node } from 'libpg-query';
import { display, tableKey } from '../ast.ts';
import type { Scope } from '../unit.ts';
import { reportLongStep } from './timeouts.ts';

/**
 * How statements fit the runner (transaction control, SELECT … INTO), and the bookkeeping of what
 * the unit creates: tables, views, schemas, foreign-key links.
 */
export function checkSteps(scope: Scope): void {
  const { type, body, state } = scope;
  switch (type) {
    case 'TransactionStmt':
      if (!scope.script) {
        scope.report(
          'step/transaction-control',
          `a step runs ${String(body['kind']).replace('TRANS_STMT_', '')} itself`,
          "remove it: mode 'transactional' steps run in the migration's transaction, mode 'standalone' steps autocommit",
        );
      }
      return;
    case 'SelectStmt':
      if (!scope.script && scope.inTx && body['intoClause']) {
        scope.report('step/select-into', 'a transactional step uses SELECT … INTO, which PL/pgSQL EXECUTE (how the runner runs transactional steps) refuses', 'write CREATE TABLE … AS SELECT … instead');
      }
      return;
    case 'CreateStmt': {
      const key = tableKey(body['relation'] as never);
      if (!key) return;
      for (const elt of (body['tableElts'] as Node[] | undefined) ?? []) {
        const constraints = 'ColumnDef' in elt ? (elt.ColumnDef.constraints ?? []).flatMap((n) => ('Constraint' in n ? [n.Constraint] : [])) : 'Constraint' in elt ? [elt.Constraint] : [];
        for (const c of constraints) {
          const parent = c.contype === 'CONSTR_FOREIGN' ? tableKey(c.pktable) : undefined;
          if (parent) {
            state.links.push([key, parent]);
            state.touched.add(parent);
          }
        }
      }
      state.created.add(key);
      state.touched.add(key);
      return;
    }
    case 'CreateTableAsStmt': {
      const into = (body['into'] as { rel?: never } | undefined)?.rel;
      const key = tableKey(into);
      const source = wholeTableSource(scope, body['query'] as Node | undefined);
      if (source) reportLongStep(scope, `CREATE ${body['objtype'] === 'OBJECT_MATVIEW' ? 'MATERIALIZED VIEW' : 'TABLE'} ${key ? display(key) : ''} AS SELECT`, source);
      if (key) {
        state.created.add(key);
        state.touched.add(key);
      }
      return;
    }
    case 'ViewStmt': {
      const key = tableKey(body['view'] as never);
      if (key && body['replace'] !== true) state.created.add(key);
      return;
    }
    case 'CreateSchemaStmt':
      if (typeof body['schemaname'] === 'string') state.createdSchemas.add(body['schemaname']);
      return;
    case 'RefreshMatViewStmt': {
      const key = tableKey(body['relation'] as never);
      if (key && !scope.isNew(key)) reportLongStep(scope, `REFRESH MATERIALIZED VIEW ${display(key)}`, key);
      return;
    }
    default:
      return;
  }
}

/**
 * The existing table a query reads whole: a plain SELECT … FROM t with no WHERE, LIMIT or
 * GROUP BY. Joins and set operations count by their first table.
 */
export function wholeTableSource(scope: Scope, query: Node | undefined): string | undefined {
  if (!query || !('SelectStmt' in query)) return undefined;
  const select = query.SelectStmt;
  if (select.larg) return wholeTableSource(scope, { SelectStmt: select.larg });
  if (select.whereClause || select.limitCount || select.groupClause || select.valuesLists) return undefined;
  for (const from of select.fromClause ?? []) {
    const rel = 'RangeVar' in from ? from.RangeVar : 'JoinExpr' in from && from.JoinExpr.larg && 'RangeVar' in from.JoinExpr.larg ? from.JoinExpr.larg.RangeVar : undefined;
    const key = tableKey(rel);
    if (key && !scope.isNew(key)) return key;
  }
  return undefined;
}

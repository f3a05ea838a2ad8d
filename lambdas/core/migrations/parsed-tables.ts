import type { Node, RangeVar } from 'libpg-query';
import { parseStatements } from '../db/statements.ts';
import { unwrap } from '../lint/ast.ts';
import type { LoadedMigration, Step } from './model.ts';
import { parseTableName } from './planner.ts';

/**
 * The tables a step's statement changes, from the PostgreSQL parser (libpg-query), so identifiers
 * follow PostgreSQL's rules: the parser has already folded unquoted names to lower case and kept
 * quoted ones as written. Unqualified names are in public (the runner's search_path). Node only:
 * Lambda bundles carry no parser (see `SqlStep.tables`).
 *
 * "Changes" means: creates (CREATE TABLE, CREATE TABLE AS, SELECT INTO), alters, renames (the new
 * name), moves (the new schema), indexes, writes rows (INSERT, UPDATE, DELETE, MERGE, also inside a
 * WITH), truncates or refreshes. Dropped tables are gone, and reads change nothing.
 */

type Table = [string, string];

const at = (rel: RangeVar | undefined, schema?: string, name?: string): Table[] =>
  rel?.relname ? [[schema ?? rel.schemaname ?? 'public', name ?? rel.relname]] : [];

const TABLE_OBJECTS = new Set(['OBJECT_TABLE', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE']);

function relations(list: unknown): Table[] {
  return ((list as Node[] | undefined) ?? []).flatMap((n) => ('RangeVar' in n ? at(n.RangeVar) : []));
}

/** Data-modifying statements inside a WITH clause. */
function withTables(body: Record<string, unknown>): Table[] {
  const ctes = ((body['withClause'] as { ctes?: Node[] } | undefined)?.ctes ?? []);
  return ctes.flatMap((c) => ('CommonTableExpr' in c && c.CommonTableExpr.ctequery ? nodeTables(c.CommonTableExpr.ctequery) : []));
}

function nodeTables(node: Node | Record<string, unknown>): Table[] {
  const [type, body] = unwrap(node);
  const rel = body['relation'] as RangeVar | undefined;
  switch (type) {
    case 'CreateStmt':
    case 'IndexStmt':
    case 'RefreshMatViewStmt':
      return at(rel);
    case 'CreateTableAsStmt':
      return at((body['into'] as { rel?: RangeVar } | undefined)?.rel);
    case 'SelectStmt':
      return [...at((body['intoClause'] as { rel?: RangeVar } | undefined)?.rel), ...withTables(body)];
    case 'AlterTableStmt':
      return TABLE_OBJECTS.has(body['objtype'] as string) ? at(rel) : [];
    case 'RenameStmt': {
      const kind = body['renameType'] as string;
      if (TABLE_OBJECTS.has(kind)) return at(rel, undefined, body['newname'] as string);
      return ['OBJECT_COLUMN', 'OBJECT_TABCONSTRAINT'].includes(kind) && TABLE_OBJECTS.has((body['relationType'] as string) ?? 'OBJECT_TABLE') ? at(rel) : [];
    }
    case 'AlterObjectSchemaStmt':
      return TABLE_OBJECTS.has(body['objectType'] as string) ? at(rel, body['newschema'] as string) : [];
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return [...at(rel), ...withTables(body)];
    case 'TruncateStmt':
      return relations(body['relations']);
    default:
      return [];
  }
}

/** The tables one statement changes, deduplicated, in order of appearance. */
export async function statementTables(sqlText: string): Promise<Table[]> {
  const seen = new Map<string, Table>();
  for (const statement of await parseStatements(sqlText)) {
    for (const t of nodeTables(statement.node)) seen.set(JSON.stringify(t), t);
  }
  return [...seen.values()];
}

/** Each SQL step with `parsedTables` set; a step whose SQL does not parse keeps none (`check` reports the SQL). */
export async function withParsedTables(migrations: LoadedMigration[]): Promise<LoadedMigration[]> {
  const parsed = async (step: Step): Promise<Step> => {
    if (step.kind !== 'sql') return step;
    const tables = await statementTables(step.sql).catch(() => undefined);
    return tables ? { ...step, parsedTables: tables } : step;
  };
  return Promise.all(migrations.map(async (m) => ({ ...m, up: await Promise.all(m.up.map(parsed)), down: await Promise.all(m.down.map(parsed)) })));
}

const key = ([schema, table]: Table) => `${schema}.${table}`;
const shown = (tables: readonly Table[]) => (tables.length ? tables.map(key).join(', ') : 'none');

/**
 * Where a step's declared tables differ from what the parser finds: one line per such step. The
 * declaration wins (it is an override), so a mismatch is what `offpeak check` reports.
 */
export function tableMismatches(m: LoadedMigration): string[] {
  const out: string[] = [];
  for (const [direction, steps] of [['up', m.up], ['down', m.down]] as const) {
    steps.forEach((step, i) => {
      if (step.kind !== 'sql' || !step.tables?.length || !step.parsedTables) return;
      const declared = step.tables.map(parseTableName);
      const found = step.parsedTables;
      const same = declared.length === found.length && declared.every((t) => found.some((f) => key(f) === key(t)));
      if (!same) {
        out.push(
          `${direction} step ${i + 1} (${step.description}) declares tables ${shown(declared)} but its statement changes ${shown(found)}; ` +
            'the declaration overrides the parser, so the run ANALYZEs and records the declared ones: fix the declaration or drop `tables`',
        );
      }
    });
  }
  return out;
}

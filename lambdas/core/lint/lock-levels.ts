import type { AlterTableCmd, Constraint, Node } from 'libpg-query';
import { booleanOption, display, nameKey, names, tableKey, unwrap } from './ast.ts';

/**
 * The table-level locks a statement takes, from PostgreSQL's lock documentation ("Explicit
 * Locking", and each command's page) and checked against pg_locks on PostgreSQL 15 and PGlite
 * (test/unit/lint/lock-levels.test.ts). A statement's locks are held until its transaction ends.
 */
export const LOCK_MODES = [
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
] as const;
export type LockMode = (typeof LOCK_MODES)[number];

export const strength = (mode: LockMode): number => LOCK_MODES.indexOf(mode);
export const stronger = (a: LockMode, b: LockMode): LockMode => (strength(a) >= strength(b) ? a : b);

/**
 * Strong: conflicts with ROW EXCLUSIVE, so writes wait behind it — and, once it is queued, so does
 * every later query that conflicts with it. These need a short lock_timeout.
 */
export const isStrong = (mode: LockMode): boolean => strength(mode) >= strength('SHARE');

/** What other sessions cannot do while the lock is held (or queued). */
export function blocked(mode: LockMode): string {
  switch (mode) {
    case 'ACCESS EXCLUSIVE':
      return 'reads and writes';
    case 'EXCLUSIVE':
      return 'writes (reads go on)';
    case 'SHARE ROW EXCLUSIVE':
    case 'SHARE':
      return 'writes';
    default:
      return 'schema changes, VACUUM and concurrent index builds (reads and writes go on)';
  }
}

export interface RelationLock {
  /** schema.name of the table (or view, sequence), when the statement names it. */
  relation: string | undefined;
  /** How messages name what is locked. */
  label: string;
  mode: LockMode;
}

export interface LockLookup {
  /** The table an index is on, when the unit created it or a builder said so. */
  indexTable(name: string): string | undefined;
}

const on = (relation: string | undefined, mode: LockMode, label?: string): RelationLock => ({
  relation,
  mode,
  label: label ?? (relation ? display(relation) : 'the table'),
});

/** ALTER TABLE subcommands below ACCESS EXCLUSIVE (ALTER TABLE's page lists them). */
const SHARE_UPDATE_EXCLUSIVE_ALTERS = new Set([
  'AT_ValidateConstraint',
  'AT_SetStatistics',
  'AT_SetOptions',
  'AT_ResetOptions',
  'AT_ClusterOn',
  'AT_DropCluster',
  'AT_SetRelOptions',
  'AT_ResetRelOptions',
  'AT_DetachPartitionFinalize',
]);
const SHARE_ROW_EXCLUSIVE_ALTERS = new Set([
  'AT_EnableTrig',
  'AT_EnableAlwaysTrig',
  'AT_EnableReplicaTrig',
  'AT_EnableTrigAll',
  'AT_EnableTrigUser',
  'AT_DisableTrig',
  'AT_DisableTrigAll',
  'AT_DisableTrigUser',
]);
/** Storage parameters that need ACCESS EXCLUSIVE even in SET (…) (the rest take SHARE UPDATE EXCLUSIVE). */
const ACCESS_EXCLUSIVE_RELOPTIONS = new Set(['user_catalog_table', 'oids']);

const LOCK_STMT_MODES: Record<number, LockMode> = Object.fromEntries(LOCK_MODES.map((m, i) => [i + 1, m]));

/** The locks of one ALTER TABLE subcommand on `key` (and on other tables it involves). */
export function alterCommandLocks(key: string, cmd: AlterTableCmd): RelationLock[] {
  const subtype = cmd.subtype ?? '';
  if (subtype === 'AT_SetRelOptions' || subtype === 'AT_ResetRelOptions') {
    const list = cmd.def && 'List' in cmd.def ? (cmd.def.List.items ?? []) : [];
    const strong = list.some((o) => 'DefElem' in o && ACCESS_EXCLUSIVE_RELOPTIONS.has(o.DefElem.defname?.toLowerCase() ?? ''));
    return [on(key, strong ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE')];
  }
  if (SHARE_UPDATE_EXCLUSIVE_ALTERS.has(subtype)) return [on(key, 'SHARE UPDATE EXCLUSIVE')];
  if (SHARE_ROW_EXCLUSIVE_ALTERS.has(subtype)) return [on(key, 'SHARE ROW EXCLUSIVE')];
  if (subtype === 'AT_AttachPartition' || subtype === 'AT_DetachPartition') {
    const part = cmd.def && 'PartitionCmd' in cmd.def ? cmd.def.PartitionCmd : undefined;
    const child = tableKey(part?.name);
    if (subtype === 'AT_AttachPartition') return [on(key, 'SHARE UPDATE EXCLUSIVE'), on(child, 'ACCESS EXCLUSIVE')];
    const mode: LockMode = part?.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE';
    return [on(key, mode), on(child, mode)];
  }
  const constraints = cmdConstraints(cmd);
  const fks = constraints.filter((c) => c.contype === 'CONSTR_FOREIGN').map((c) => on(tableKey(c.pktable), 'SHARE ROW EXCLUSIVE'));
  if (subtype === 'AT_AddConstraint' && constraints[0]?.contype === 'CONSTR_FOREIGN') return [on(key, 'SHARE ROW EXCLUSIVE'), ...fks];
  return [on(key, 'ACCESS EXCLUSIVE'), ...fks];
}

export function cmdConstraints(cmd: AlterTableCmd): Constraint[] {
  if (cmd.def && 'Constraint' in cmd.def) return [cmd.def.Constraint];
  if (cmd.def && 'ColumnDef' in cmd.def) return (cmd.def.ColumnDef.constraints ?? []).flatMap((n) => ('Constraint' in n ? [n.Constraint] : []));
  return [];
}

/** Every table-level lock the statement takes, strongest per relation not merged. */
export function statementLocks(node: Node, lookup: LockLookup): RelationLock[] {
  const [type, body] = unwrap(node);
  const rel = (field: string) => tableKey(body[field] as never);
  switch (type) {
    case 'AlterTableStmt': {
      const key = rel('relation');
      if (!key) return [];
      const cmds = ((body['cmds'] as Node[] | undefined) ?? []).flatMap((c) => ('AlterTableCmd' in c ? [c.AlterTableCmd] : []));
      if (body['objtype'] === 'OBJECT_INDEX') {
        const table = lookup.indexTable(key.slice(key.indexOf('.') + 1));
        const weak = cmds.every((c) => c.subtype === 'AT_SetRelOptions' || c.subtype === 'AT_ResetRelOptions');
        return [on(table, weak ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE', table ? undefined : `index ${display(key)}`)];
      }
      return cmds.flatMap((c) => alterCommandLocks(key, c));
    }
    case 'RenameStmt': {
      const renameType = body['renameType'] as string;
      const key = rel('relation');
      if (renameType === 'OBJECT_INDEX') return [on(key, 'SHARE UPDATE EXCLUSIVE', `index ${key ? display(key) : ''}`)];
      return key ? [on(key, 'ACCESS EXCLUSIVE')] : [];
    }
    case 'AlterObjectSchemaStmt': {
      const key = rel('relation');
      return key ? [on(key, 'ACCESS EXCLUSIVE')] : [];
    }
    case 'IndexStmt':
      return [on(rel('relation'), body['concurrent'] === true ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE')];
    case 'DropStmt': {
      const removeType = body['removeType'] as string;
      const objects = ((body['objects'] as Node[] | undefined) ?? []).map((o) => ('List' in o ? names(o.List.items) : []));
      switch (removeType) {
        case 'OBJECT_TABLE':
        case 'OBJECT_VIEW':
        case 'OBJECT_MATVIEW':
        case 'OBJECT_SEQUENCE':
        case 'OBJECT_FOREIGN_TABLE':
          return objects.map((parts) => on(nameKey(parts), 'ACCESS EXCLUSIVE'));
        case 'OBJECT_INDEX':
          return objects.map((parts) => {
            const table = lookup.indexTable(parts.at(-1) ?? '');
            return on(table, body['concurrent'] === true ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE', table ? undefined : `the table of index ${parts.join('.')}`);
          });
        case 'OBJECT_TRIGGER':
        case 'OBJECT_POLICY':
        case 'OBJECT_RULE':
          return objects.map((parts) => on(nameKey(parts.slice(0, -1)), 'ACCESS EXCLUSIVE'));
        default:
          return [];
      }
    }
    case 'TruncateStmt':
      return relations(body['relations']).map((key) => on(key, 'ACCESS EXCLUSIVE'));
    case 'LockStmt': {
      const mode = LOCK_STMT_MODES[(body['mode'] as number | undefined) ?? 8] ?? 'ACCESS EXCLUSIVE';
      return relations(body['relations']).map((key) => on(key, mode));
    }
    case 'VacuumStmt': {
      const rels = ((body['rels'] as Node[] | undefined) ?? []).flatMap((r) => ('VacuumRelation' in r ? [tableKey(r.VacuumRelation.relation)] : []));
      const full = body['is_vacuumcmd'] === true && booleanOption(body['options'] as Node[] | undefined, 'full') === true;
      const mode: LockMode = full ? 'ACCESS EXCLUSIVE' : 'SHARE UPDATE EXCLUSIVE';
      return rels.length === 0 ? [on(undefined, mode, 'every table in the database')] : rels.map((key) => on(key, mode));
    }
    case 'ClusterStmt': {
      const key = rel('relation');
      return [on(key, 'ACCESS EXCLUSIVE', key ? undefined : 'every clustered table')];
    }
    case 'ReindexStmt': {
      const kind = body['kind'] as string;
      if (kind === 'REINDEX_OBJECT_SYSTEM') return [];
      const concurrent = booleanOption(body['params'] as Node[] | undefined, 'concurrently') === true;
      const mode: LockMode = concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE';
      if (kind === 'REINDEX_OBJECT_TABLE') return [on(rel('relation'), mode)];
      if (kind === 'REINDEX_OBJECT_INDEX') {
        const name = (body['relation'] as { relname?: string } | undefined)?.relname ?? '';
        const table = lookup.indexTable(name);
        return [on(table, mode, table ? undefined : `the table of index ${name}`)];
      }
      return [on(undefined, mode, `every table in ${kind === 'REINDEX_OBJECT_SCHEMA' ? `schema ${String(body['name'] ?? '')}` : 'the database'}`)];
    }
    case 'CreateTrigStmt':
      return [on(rel('relation'), 'SHARE ROW EXCLUSIVE')];
    case 'CreatePolicyStmt':
    case 'AlterPolicyStmt':
      return [on(rel('table'), 'ACCESS EXCLUSIVE')];
    case 'RuleStmt':
      return [on(rel('relation'), 'ACCESS EXCLUSIVE')];
    case 'ViewStmt':
      return body['replace'] === true ? [on(rel('view'), 'ACCESS EXCLUSIVE')] : [];
    case 'RefreshMatViewStmt':
      return [on(rel('relation'), body['concurrent'] === true ? 'EXCLUSIVE' : 'ACCESS EXCLUSIVE')];
    case 'AlterSeqStmt':
      return [on(rel('sequence'), 'SHARE ROW EXCLUSIVE')];
    case 'AlterDomainStmt': {
      const subtype = body['subtype'] as string;
      const c = body['def'] && 'Constraint' in (body['def'] as Node) ? (body['def'] as { Constraint: Constraint }).Constraint : undefined;
      const scans = subtype === 'O' || subtype === 'V' || (subtype === 'C' && c?.contype === 'CONSTR_CHECK' && !c.skip_validation);
      const domain = names(body['typeName'] as Node[] | undefined).join('.');
      return scans ? [on(undefined, 'SHARE', `every table with a column of domain ${domain}`)] : [];
    }
    case 'CreateStmt': {
      const locks: RelationLock[] = [];
      const parents = relations(body['inhRelations']);
      if (body['partbound']) locks.push(...parents.map((p) => on(p, 'ACCESS EXCLUSIVE')));
      else locks.push(...parents.map((p) => on(p, 'SHARE UPDATE EXCLUSIVE')));
      for (const elt of (body['tableElts'] as Node[] | undefined) ?? []) {
        const constraints = 'ColumnDef' in elt ? (elt.ColumnDef.constraints ?? []).flatMap((n) => ('Constraint' in n ? [n.Constraint] : [])) : 'Constraint' in elt ? [elt.Constraint] : [];
        for (const c of constraints) if (c.contype === 'CONSTR_FOREIGN') locks.push(on(tableKey(c.pktable), 'SHARE ROW EXCLUSIVE'));
      }
      return locks;
    }
    case 'CommentStmt':
    case 'CreateStatsStmt':
      return [];
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return [on(rel('relation'), 'ROW EXCLUSIVE')];
    default:
      return [];
  }
}

function relations(list: unknown): Array<string | undefined> {
  return ((list as Node[] | undefined) ?? []).map((r) => ('RangeVar' in r ? tableKey(r.RangeVar) : undefined));
}

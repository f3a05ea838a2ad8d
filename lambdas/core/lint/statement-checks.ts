import type { AlterTableCmd, ColumnDef, Constraint, Node } from 'libpg-query';
import type { LintConfig } from './config.ts';
import { constValue, display, functionCalls, hasOption, names, optionValues, tableKey, unwrap } from './ast.ts';
import type { Finding } from './violation.ts';

/**
 * Statement-level rules, run over one *unit*: the ordered statements of one migration
 * direction, or of one .sql file. Context carried through the unit:
 * - tables created earlier in the unit are not "existing" (empty, and invisible to other
 *   sessions until commit), so index/locking rules skip them; likewise tables the unit drops
 *   later (locks on a table about to be dropped do not matter);
 * - whether a transaction block is open (CONCURRENTLY may not run in one);
 * - whether a lock_timeout is in force (see `timeouts/lock-timeout` below).
 */
export interface LintStatement<T> {
  text: string;
  node: Node;
  /** Runs inside a transaction: a transactional step (the runner wraps them), or inside BEGIN … COMMIT. */
  inTransaction: boolean;
  /** The runner sets a short lock_timeout (and retries on 55P03) for it: steps declared `lock: 'strong'`. */
  runnerGuarded: boolean;
  origin: T;
}

/** What the linter learns across migrations, in order: validated `CHECK (col IS NOT NULL)` constraints. */
export interface SchemaKnowledge {
  /** `schema.table.column` with a validated NOT NULL check. */
  notNullChecks: Set<string>;
}

export interface UnitOptions {
  config: LintConfig;
  knowledge: SchemaKnowledge;
  /**
   * .sql files: BEGIN/COMMIT open and close transaction blocks and a plain SET persists for the
   * session. Migration steps: the runner owns transactions (BEGIN in a step is itself an error),
   * and a plain SET does not outlive its Data API call unless it runs in the migration's transaction.
   */
  script: boolean;
}

export interface UnitResult<T> {
  findings: Array<{ finding: Finding; origin: T }>;
  /** Tables the unit touches (schema.table). */
  touched: Set<string>;
  /** Foreign-key links created in the unit (child, parent). */
  links: Array<[string, string]>;
  created: Set<string>;
}

/** Functions whose result changes per row: a default using one forces a table rewrite. */
const VOLATILE = new Set([
  'random', 'random_normal', 'gen_random_uuid', 'uuid_generate_v1', 'uuid_generate_v1mc', 'uuid_generate_v4', 'uuidv4', 'uuidv7',
  'clock_timestamp', 'timeofday', 'nextval', 'txid_current', 'setseed',
]);
const SERIAL_TYPES = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

/** ALTER TABLE subcommands that take less than SHARE ROW EXCLUSIVE: not "strong" for timeouts. */
const WEAK_ALTER = new Set(['AT_ValidateConstraint', 'AT_SetStatistics', 'AT_ClusterOn', 'AT_DropCluster', 'AT_AttachPartition', 'AT_SetOptions', 'AT_ResetOptions']);

const TIMEOUT_HINT =
  "put SET LOCAL lock_timeout = '2s' (in the same transaction) or SET lock_timeout before it and retry on SQLSTATE 55P03; in a migration, declare the step lock: 'strong' so the runner does this for you";

export function checkUnit<T>(statements: ReadonlyArray<LintStatement<T>>, options: UnitOptions): UnitResult<T> {
  const { config, knowledge, script } = options;
  const findings: UnitResult<T>['findings'] = [];
  const touched = new Set<string>();
  const links: Array<[string, string]> = [];
  const created = new Set<string>();
  const createdIndexes = new Set<string>();

  // Pre-scan: index → table (to judge DROP INDEX / REINDEX INDEX), and tables dropped in the unit.
  const indexTable = new Map<string, string>();
  const droppedAt = new Map<string, number>();
  statements.forEach((s, i) => {
    const [type, body] = unwrap(s.node);
    if (type === 'IndexStmt') {
      const key = tableKey(body['relation'] as never);
      const name = body['idxname'] as string | undefined;
      if (key && name) indexTable.set(name, key);
    } else if (type === 'DropStmt' && body['removeType'] === 'OBJECT_TABLE') {
      for (const o of (body['objects'] as Node[] | undefined) ?? []) {
        const parts = 'List' in o ? names(o.List.items) : [];
        const key = parts.length === 1 ? `public.${parts[0]}` : parts.slice(-2).join('.');
        if (!droppedAt.has(key)) droppedAt.set(key, i);
      }
    }
  });

  let block = false;
  let sessionTimeout = false;
  let txTimeout = false;
  const pendingNotNull = new Map<string, string>(); // constraint name → schema.table.column

  statements.forEach((s, i) => {
    const report = (rule: Finding['rule'], message: string, hint: string) => {
      if (config.severities.has(rule)) findings.push({ finding: { rule, message, hint }, origin: s.origin });
    };
    const isNew = (key: string | undefined) => key !== undefined && (created.has(key) || (droppedAt.get(key) ?? -1) > i);
    const inTx = s.inTransaction || block;
    const timeoutInForce = (inTx && txTimeout) || (script && sessionTimeout);
    const guarded = s.runnerGuarded || timeoutInForce;
    /** CONCURRENTLY work under a short lock_timeout is cancelled while it waits, leaving an INVALID index. */
    const concurrentBuild = (label: string) => {
      if (s.runnerGuarded) {
        report('timeouts/concurrent-build', `${label} runs in a step declared lock: 'strong': the runner's short lock_timeout cancels it while it waits for older transactions, leaving an INVALID index`, "declare the step lock: 'concurrent' (createIndex/dropIndex do), so the runner gives it a long lock_timeout");
      } else if (timeoutInForce) {
        report('timeouts/concurrent-build', `${label} runs under the lock_timeout set earlier: it is cancelled while it waits for older transactions, leaving an INVALID index`, 'RESET lock_timeout (or SET lock_timeout = 0) before CONCURRENTLY work; keep the short timeout for the strong-lock DDL only');
      }
    };
    /** Strong-lock DDL on an existing table: needs a lock_timeout. */
    const strong = (what: string, key: string | undefined) => {
      if (isNew(key) || guarded) return;
      report('timeouts/lock-timeout', `${what} takes a strong lock with no lock_timeout in force: it can queue behind a long transaction and block every later query on ${key ? display(key) : 'the table'}`, TIMEOUT_HINT);
    };
    const [type, body] = unwrap(s.node);

    switch (type) {
      case 'TransactionStmt': {
        const kind = body['kind'] as string;
        if (!script) {
          report('step/transaction-control', `a step runs ${kind.replace('TRANS_STMT_', '')} itself`, "remove it: mode 'transactional' steps run in the migration's transaction, mode 'standalone' steps autocommit");
        } else if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START') {
          block = true;
        } else if (kind === 'TRANS_STMT_COMMIT' || kind === 'TRANS_STMT_ROLLBACK' || kind === 'TRANS_STMT_COMMIT_PREPARED' || kind === 'TRANS_STMT_PREPARE') {
          block = false;
          txTimeout = false;
        }
        return;
      }
      case 'VariableSetStmt': {
        if ((body['name'] as string | undefined)?.toLowerCase() !== 'lock_timeout') return;
        const args = body['args'] as Node[] | undefined;
        const value = args?.[0] ? constValue(args[0]) : undefined;
        const on = body['kind'] === 'VAR_SET_VALUE' && value !== undefined && value !== 0 && value !== '0';
        if (body['is_local'] || (!script && inTx)) {
          if (inTx) txTimeout = on;
        } else if (script) {
          sessionTimeout = on;
        }
        return;
      }
      case 'SelectStmt': {
        if (!script && s.inTransaction && body['intoClause']) {
          report('step/select-into', 'a transactional step uses SELECT … INTO, which PL/pgSQL EXECUTE (how the runner runs transactional steps) refuses', 'write CREATE TABLE … AS SELECT … instead');
        }
        // SELECT set_config('lock_timeout', '2s', is_local)
        const fn = JSON.stringify(body);
        if (fn.includes('"set_config"') && fn.includes('"lock_timeout"')) {
          const local = /"boolval":\{"boolval":true\}/.test(fn);
          if (local || !script) {
            if (inTx) txTimeout = true;
          } else sessionTimeout = true;
        }
        return;
      }
      case 'CreateStmt': {
        const key = tableKey(body['relation'] as never);
        if (!key) return;
        const parents = foreignKeyTargets(body);
        for (const p of parents) {
          links.push([key, p]);
          touched.add(p);
          if (p !== key) strong(`CREATE TABLE ${display(key)} referencing ${display(p)} (SHARE ROW EXCLUSIVE on ${display(p)})`, p);
        }
        created.add(key);
        touched.add(key);
        return;
      }
      case 'IndexStmt': {
        const key = tableKey(body['relation'] as never);
        const name = body['idxname'] as string | undefined;
        const concurrent = body['concurrent'] === true;
        const method = ((body['accessMethod'] as string | undefined) ?? 'btree').toLowerCase();
        if (key) touched.add(key);
        const label = `CREATE INDEX ${name ?? '(unnamed)'} ON ${key ? display(key) : '?'}`;
        if (!body['if_not_exists']) {
          report('idempotency/create-index-if-not-exists', `${label} has no IF NOT EXISTS`, 'write CREATE INDEX CONCURRENTLY IF NOT EXISTS (or use the createIndex builder, which also repairs an INVALID leftover)');
        }
        if (!name || !name.startsWith(config.indexPrefix)) {
          report('idempotency/index-prefix', `index ${name ?? '(unnamed)'} does not start with ${config.indexPrefix}`, `name it ${config.indexPrefix}<table>_<columns>; index-health advice only covers ${config.indexPrefix} indexes`);
        }
        if (concurrent && inTx) {
          report('concurrency/in-transaction', `${label} CONCURRENTLY inside a transaction fails (CREATE INDEX CONCURRENTLY cannot run inside a transaction block)`, "make it a mode: 'standalone' step (createIndex does), outside BEGIN … COMMIT");
        }
        if (concurrent) concurrentBuild(`${label} CONCURRENTLY`);
        if (!concurrent && !isNew(key)) {
          report('concurrency/create-index', `${label} without CONCURRENTLY blocks writes to ${key ? display(key) : 'the table'} for the whole build`, 'use CREATE INDEX CONCURRENTLY IF NOT EXISTS in a standalone step (createIndex({...}) defaults to it)');
          strong(label, key);
        }
        if (method === 'ivfflat' && key && created.has(key)) {
          const lists = optionValues(body['options'] as Node[] | undefined)['lists'];
          report(
            'pgvector/ivfflat-empty-table',
            `IVFFlat index ${name ?? ''} is built on ${display(key)}, created in the same migration: its ${lists ?? 100} lists are trained on an empty table and recall will be poor`,
            'create the IVFFlat index in a later migration, after loading data, with lists ≈ rows/1000 up to 1M rows and √rows above (REINDEX CONCURRENTLY to retrain); or use HNSW, which can be built on an empty table',
          );
        }
        if (name) createdIndexes.add(name);
        return;
      }
      case 'DropStmt': {
        const removeType = body['removeType'] as string;
        const objects = ((body['objects'] as Node[] | undefined) ?? []).map((o) => ('List' in o ? names(o.List.items) : []));
        if (removeType === 'OBJECT_TABLE') {
          for (const parts of objects) {
            const key = parts.length === 1 ? `public.${parts[0]}` : parts.slice(-2).join('.');
            touched.add(key);
            if (!created.has(key)) strong(`DROP TABLE ${display(key)}`, undefined);
          }
          return;
        }
        if (removeType !== 'OBJECT_INDEX') return;
        const concurrent = body['concurrent'] === true;
        for (const parts of objects) {
          const name = parts.at(-1) ?? '?';
          const key = indexTable.get(name);
          if (key) touched.add(key);
          const label = `DROP INDEX ${parts.join('.')}`;
          if (!body['missing_ok']) report('idempotency/drop-index-if-exists', `${label} has no IF EXISTS`, 'write DROP INDEX CONCURRENTLY IF EXISTS (or use the dropIndex builder)');
          if (concurrent && inTx) {
            report('concurrency/in-transaction', `${label} CONCURRENTLY inside a transaction fails`, "make it a mode: 'standalone' step (dropIndex does), outside BEGIN … COMMIT");
          }
          if (concurrent) concurrentBuild(`${label} CONCURRENTLY`);
          if (!concurrent && !createdIndexes.has(name) && !isNew(key)) {
            report('concurrency/drop-index', `${label} without CONCURRENTLY takes ACCESS EXCLUSIVE on ${key ? display(key) : 'its table'}`, 'use DROP INDEX CONCURRENTLY IF EXISTS in a standalone step (dropIndex({...}) defaults to it)');
            strong(label, key);
          }
        }
        return;
      }
      case 'ReindexStmt': {
        const concurrent = hasOption(body['params'] as Node[] | undefined, 'concurrently');
        const key = tableKey(body['relation'] as never) ?? indexTable.get((body['relation'] as { relname?: string } | undefined)?.relname ?? '');
        const label = `REINDEX ${String(body['kind']).replace('REINDEX_OBJECT_', '')} ${(body['relation'] as { relname?: string } | undefined)?.relname ?? (body['name'] as string | undefined) ?? ''}`.trim();
        if (concurrent && inTx) report('concurrency/in-transaction', `${label} CONCURRENTLY inside a transaction fails`, "make it a mode: 'standalone' step, outside BEGIN … COMMIT");
        if (concurrent) concurrentBuild(`${label} CONCURRENTLY`);
        if (!concurrent && !isNew(key)) {
          report('concurrency/reindex', `${label} without CONCURRENTLY blocks writes (and reads that use the index) until it finishes`, 'use REINDEX … CONCURRENTLY in a standalone step');
          strong(label, key);
        }
        return;
      }
      case 'AlterTableStmt': {
        if (body['objtype'] !== 'OBJECT_TABLE') return;
        const key = tableKey(body['relation'] as never);
        if (!key) return;
        touched.add(key);
        const cmds = ((body['cmds'] as Node[] | undefined) ?? []).flatMap((c) => ('AlterTableCmd' in c ? [c.AlterTableCmd] : []));
        for (const cmd of cmds) {
          for (const parent of alterForeignKeyTargets(cmd)) {
            links.push([key, parent]);
            touched.add(parent);
          }
        }
        if (isNew(key)) return;
        for (const cmd of cmds) checkAlterCommand(key, cmd, { report, knowledge, pendingNotNull });
        if (cmds.some((c) => !WEAK_ALTER.has(c.subtype ?? ''))) strong(`ALTER TABLE ${display(key)}`, key);
        return;
      }
      case 'RenameStmt': {
        const renameType = body['renameType'] as string;
        const key = tableKey(body['relation'] as never);
        if (key) touched.add(key);
        if (isNew(key)) return;
        if (renameType === 'OBJECT_COLUMN' || renameType === 'OBJECT_TABLE') {
          const what = renameType === 'OBJECT_COLUMN' ? `column ${display(key ?? '?')}.${String(body['subname'])}` : `table ${display(key ?? '?')}`;
          report(
            'locking/rename',
            `renaming ${what} to ${String(body['newname'])} breaks every running client that still uses the old name`,
            renameType === 'OBJECT_COLUMN'
              ? 'expand/contract: add the new column, write both, backfill in batches, switch reads, drop the old column in a later release'
              : 'rename, then CREATE VIEW <old name> AS SELECT * FROM <new name> in the same transaction until every client has moved; drop the view later',
          );
        }
        strong(`ALTER … RENAME`, key);
        return;
      }
      case 'VacuumStmt': {
        const rels = ((body['rels'] as Node[] | undefined) ?? []).flatMap((r) => ('VacuumRelation' in r ? [tableKey(r.VacuumRelation.relation)] : []));
        if (body['is_vacuumcmd'] && inTx) {
          report('concurrency/in-transaction', 'VACUUM cannot run inside a transaction block', "make it a mode: 'standalone' step, outside BEGIN … COMMIT");
        }
        if (body['is_vacuumcmd'] && hasOption(body['options'] as Node[] | undefined, 'full')) {
          const existing = rels.length === 0 ? ['the whole database'] : rels.filter((r) => !isNew(r)).map((r) => display(r ?? '?'));
          if (existing.length > 0) {
            report('locking/vacuum-full', `VACUUM FULL ${existing.join(', ')} rewrites under ACCESS EXCLUSIVE: reads and writes stop until it finishes`, 'use pg_repack (online), or plain VACUUM; reclaim space with a concurrent rebuild off-peak');
            strong('VACUUM FULL', rels[0]);
          }
        }
        return;
      }
      case 'ClusterStmt': {
        const key = tableKey(body['relation'] as never);
        if (isNew(key)) return;
        report('locking/cluster', `CLUSTER ${key ? display(key) : ''} rewrites the table under ACCESS EXCLUSIVE: reads and writes stop until it finishes`.replace('  ', ' '), 'use pg_repack --order-by (online), or build a suitable index CONCURRENTLY instead');
        strong('CLUSTER', key);
        return;
      }
      case 'TruncateStmt':
      case 'LockStmt': {
        for (const r of (body['relations'] as Node[] | undefined) ?? []) {
          const key = 'RangeVar' in r ? tableKey(r.RangeVar) : undefined;
          if (key) touched.add(key);
          strong(type === 'TruncateStmt' ? 'TRUNCATE' : 'LOCK TABLE', key);
        }
        return;
      }
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt': {
        const key = tableKey(body['relation'] as never);
        if (key) touched.add(key);
        return;
      }
      default:
        return;
    }
  });

  return { findings, touched, links, created };
}

interface AlterContext {
  report: (rule: Finding['rule'], message: string, hint: string) => void;
  knowledge: SchemaKnowledge;
  pendingNotNull: Map<string, string>;
}

function checkAlterCommand(key: string, cmd: AlterTableCmd, { report, knowledge, pendingNotNull }: AlterContext): void {
  const table = display(key);
  switch (cmd.subtype) {
    case 'AT_AddColumn': {
      const col = cmd.def && 'ColumnDef' in cmd.def ? cmd.def.ColumnDef : undefined;
      if (!col) return;
      const rewrite = addColumnRewrite(col);
      if (rewrite) {
        report(
          'locking/add-column-volatile-default',
          `ADD COLUMN ${table}.${col.colname ?? '?'} ${rewrite}: the table is rewritten under ACCESS EXCLUSIVE`,
          'add the column without a default (or with a constant one), set the default in a second statement (ALTER COLUMN … SET DEFAULT), then backfill existing rows in batches',
        );
      }
      for (const c of constraintsOf(col)) checkNewConstraint(table, c, report, true);
      return;
    }
    case 'AT_AlterColumnType':
      report(
        'locking/alter-column-type',
        `ALTER COLUMN ${table}.${cmd.name ?? '?'} TYPE rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE (except binary-coercible changes such as varchar(n) → text)`,
        'add a new column of the new type, backfill it in batches, switch the application, then drop the old column; or lint.disable with a reason if the change is binary-coercible',
      );
      return;
    case 'AT_SetNotNull': {
      const column = `${key}.${cmd.name ?? ''}`;
      if (knowledge.notNullChecks.has(column)) return;
      report(
        'locking/set-not-null',
        `SET NOT NULL on ${table}.${cmd.name ?? '?'} scans the whole table under ACCESS EXCLUSIVE`,
        `first ADD CONSTRAINT ${cmd.name ?? 'col'}_not_null CHECK (${cmd.name ?? 'col'} IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT (weak lock); SET NOT NULL then uses the validated check and skips the scan`,
      );
      return;
    }
    case 'AT_AddConstraint': {
      const c = cmd.def && 'Constraint' in cmd.def ? cmd.def.Constraint : undefined;
      if (!c) return;
      const column = notNullColumn(c);
      if (column && c.conname) {
        if (c.skip_validation) pendingNotNull.set(c.conname, `${key}.${column}`);
        else knowledge.notNullChecks.add(`${key}.${column}`);
      }
      checkNewConstraint(table, c, report, false);
      return;
    }
    case 'AT_ValidateConstraint': {
      const column = cmd.name ? pendingNotNull.get(cmd.name) : undefined;
      if (column) knowledge.notNullChecks.add(column);
      return;
    }
    default:
      return;
  }
}

function checkNewConstraint(table: string, c: Constraint, report: AlterContext['report'], inline: boolean): void {
  const name = c.conname ? ` ${c.conname}` : '';
  if ((c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') && !c.skip_validation) {
    const kind = c.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK';
    report(
      'locking/add-constraint-validation',
      `${kind}${name} on ${table} is validated while ADD ${inline ? 'COLUMN' : 'CONSTRAINT'} holds its lock: the whole table is scanned${c.contype === 'CONSTR_FOREIGN' ? ' and writes to both tables block' : ''}`,
      inline
        ? `add the column alone, then ALTER TABLE ${table} ADD CONSTRAINT … ${kind} … NOT VALID, then VALIDATE CONSTRAINT in a later step`
        : `add it NOT VALID, then ALTER TABLE ${table} VALIDATE CONSTRAINT … in a later step (VALIDATE takes only SHARE UPDATE EXCLUSIVE)`,
    );
  }
  if ((c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY' || c.contype === 'CONSTR_EXCLUSION') && !c.indexname) {
    report(
      'locking/add-unique-constraint',
      `${c.contype.replace('CONSTR_', '')}${name} on ${table} builds its index while holding ACCESS EXCLUSIVE`,
      `CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_… first, then ALTER TABLE ${table} ADD CONSTRAINT … UNIQUE USING INDEX idx_… (PRIMARY KEY USING INDEX likewise)`,
    );
  }
}

/** Why adding this column rewrites the table, or undefined when it does not (PG ≥ 11 stores constant defaults). */
function addColumnRewrite(col: ColumnDef): string | undefined {
  const type = names(col.typeName?.names).at(-1)?.toLowerCase();
  if (type && SERIAL_TYPES.has(type)) return `of type ${type} (a nextval() default per row)`;
  if (col.identity) return 'GENERATED AS IDENTITY';
  for (const c of constraintsOf(col)) {
    if (c.contype === 'CONSTR_IDENTITY') return 'GENERATED AS IDENTITY';
    if (c.contype === 'CONSTR_GENERATED' && (c.generated_kind ?? 's') === 's') return 'GENERATED ALWAYS AS (…) STORED';
    if (c.contype === 'CONSTR_DEFAULT') {
      const volatile = functionCalls(c.raw_expr).find((f) => VOLATILE.has(f));
      if (volatile) return `with the volatile default ${volatile}()`;
    }
  }
  if (col.raw_default) {
    const volatile = functionCalls(col.raw_default).find((f) => VOLATILE.has(f));
    if (volatile) return `with the volatile default ${volatile}()`;
  }
  return undefined;
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

function foreignKeyTargets(createBody: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const elt of (createBody['tableElts'] as Node[] | undefined) ?? []) {
    const constraints = 'ColumnDef' in elt ? constraintsOf(elt.ColumnDef) : 'Constraint' in elt ? [elt.Constraint] : [];
    for (const c of constraints) {
      const key = c.contype === 'CONSTR_FOREIGN' ? tableKey(c.pktable) : undefined;
      if (key) out.push(key);
    }
  }
  return out;
}

function alterForeignKeyTargets(cmd: AlterTableCmd): string[] {
  const constraints =
    cmd.def && 'Constraint' in cmd.def ? [cmd.def.Constraint] : cmd.def && 'ColumnDef' in cmd.def ? constraintsOf(cmd.def.ColumnDef) : [];
  return constraints.flatMap((c) => {
    const key = c.contype === 'CONSTR_FOREIGN' ? tableKey(c.pktable) : undefined;
    return key ? [key] : [];
  });
}

import type { Node } from 'libpg-query';
import { nameKey, names, tableKey, unwrap } from './ast.ts';
import type { LintConfig } from './config.ts';
import { checkAlterTable } from './checks/alter-table.ts';
import { checkDataChange } from './checks/data-changes.ts';
import { checkDestructive } from './checks/destructive.ts';
import { checkDomain } from './checks/domain.ts';
import { checkIndexes } from './checks/indexes.ts';
import { checkRewrites } from './checks/rewrites.ts';
import { checkSteps } from './checks/steps.ts';
import { checkLockTimeouts, trackTimeouts } from './checks/timeouts.ts';
import { isStrong, statementLocks, stronger, type LockMode, type RelationLock } from './lock-levels.ts';
import { RULES_BY_ID, type RuleId } from './rules.ts';
import { oneLine } from './source-text.ts';
import type { Finding } from './violation.ts';

/**
 * Statement-level rules, run over one *unit*: the ordered statements of one migration direction,
 * or of one .sql file. What the unit carries from statement to statement:
 * - tables created earlier in the unit are not "existing" (empty, and invisible to other sessions
 *   until commit), so locking rules skip them; likewise tables the unit drops later;
 * - the transaction each statement runs in, and the locks that transaction already holds (a scan
 *   or a backfill after DDL in the same transaction runs under the DDL's lock);
 * - the lock_timeout and statement_timeout in force;
 * - NOT VALID constraints and validated NOT NULL checks (with what earlier migrations taught).
 */
export interface LintStatement<T> {
  text: string;
  node: Node;
  /** Runs inside a transaction: a transactional step, or a statement inside BEGIN … COMMIT. */
  inTransaction: boolean;
  /**
   * Module steps: which transaction the step runs in. Steps with the same id share one (a migration
   * whose steps are all transactional runs them in ONE transaction); undefined for standalone steps.
   * .sql files leave it undefined: BEGIN … COMMIT decide.
   */
  txId?: number;
  /** The runner sets a short lock_timeout (and retries on 55P03) for it: transactional steps declared `lock: 'strong'`. */
  runnerGuarded: boolean;
  /** Module steps: the lock the step declares (the model's contract: 'strong' gets a short lock_timeout). */
  declaredLock?: 'strong' | 'concurrent' | 'none';
  /** Index → table known from a builder step's spec (DROP INDEX names only the index). */
  indexTable?: { index: string; table: string };
  origin: T;
}

/** What the linter learns from a migration for its descendants in the migration graph. */
export interface SchemaKnowledge {
  /** `schema.table.column` with a validated CHECK (col IS NOT NULL). */
  notNullChecks: Set<string>;
  /** `schema.table|constraint` → column, for CHECK (col IS NOT NULL) constraints added NOT VALID. */
  notValidNotNull: Map<string, string>;
}

export const emptyKnowledge = (): SchemaKnowledge => ({ notNullChecks: new Set(), notValidNotNull: new Map() });
export const copyKnowledge = (k: SchemaKnowledge): SchemaKnowledge => ({ notNullChecks: new Set(k.notNullChecks), notValidNotNull: new Map(k.notValidNotNull) });

export interface UnitOptions {
  config: LintConfig;
  knowledge: SchemaKnowledge;
  /**
   * .sql files: BEGIN/COMMIT open and close transaction blocks and a plain SET persists for the
   * session. Migration steps: the runner owns transactions (BEGIN in a step is itself an error),
   * and a plain SET does not outlive its Data API call unless it runs in the migration's transaction.
   */
  script: boolean;
  /** Module units: the direction. Destructive rules judge the up direction (down undoes it) and .sql files. */
  direction?: 'up' | 'down';
}

export interface UnitResult<T> {
  findings: Array<{ finding: Finding; origin: T }>;
  /** Destructive or client-breaking DDL found, whether or not its rule is enabled (for the derived risk). */
  riskRaisers: Array<{ rule: RuleId; origin: T }>;
  /** Tables the unit touches (schema.table). */
  touched: Set<string>;
  /** Foreign-key links created in the unit (child, parent). */
  links: Array<[string, string]>;
  created: Set<string>;
}

/** Mutable state of one unit, shared by the checks. */
export class UnitState {
  readonly created = new Set<string>();
  readonly createdSchemas = new Set<string>();
  readonly createdIndexes = new Set<string>();
  /** `schema.table.column` added in the unit. */
  readonly createdColumns = new Set<string>();
  readonly indexTable = new Map<string, string>();
  /** Table → index of the first statement that drops it. */
  readonly droppedAt = new Map<string, number>();
  /** Table → indexes of the statements that create it. */
  readonly createdAtIndexes = new Map<string, number[]>();
  readonly touched = new Set<string>();
  readonly links: Array<[string, string]> = [];
  /** Locks the current transaction holds on existing tables, and the statement that took each. */
  readonly held = new Map<string, { mode: LockMode; by: string }>();
  /** `schema.table|constraint` → what it constrains, for constraints added NOT VALID in the unit. */
  readonly notValid = new Map<string, { column?: string; pktable?: string }>();
  /** `schema.table` → constraints validated here whose ADD the unit never saw (cross-migration recipe). */
  readonly validatedElsewhere = new Map<string, string[]>();
  readonly timeouts = {
    session: { lock: 0, statement: 0 },
    tx: { lock: undefined as number | undefined, statement: undefined as number | undefined },
  };
  tx: string | undefined;

  constructor(readonly knowledge: SchemaKnowledge) {}

  /** Timeout in force for this statement, in ms (0: none). */
  lockTimeout(): number {
    return this.timeouts.tx.lock ?? this.timeouts.session.lock;
  }
  statementTimeout(): number {
    return this.timeouts.tx.statement ?? this.timeouts.session.statement;
  }
  lookup = { indexTable: (name: string) => this.indexTable.get(name) };
}

/** Everything a check needs about the statement at hand. */
export interface Scope {
  readonly type: string;
  readonly body: Record<string, unknown>;
  readonly text: string;
  /** Short form of the statement for messages. */
  readonly label: string;
  readonly index: number;
  readonly script: boolean;
  /** Inside a transaction (CONCURRENTLY and VACUUM cannot run). */
  readonly inTx: boolean;
  /** A module step in a transaction (the Data API's 45 s statement timeout applies). */
  readonly transactionalStep: boolean;
  readonly runnerGuarded: boolean;
  readonly declaredLock: 'strong' | 'concurrent' | 'none' | undefined;
  /** False for a module's down direction: destructive rules judge the up direction and .sql files. */
  readonly judgesDestructive: boolean;
  readonly config: LintConfig;
  readonly state: UnitState;
  /** The statement's table-level locks (lock-levels.ts). */
  readonly locks: RelationLock[];
  report(rule: RuleId, message: string, hint: string): void;
  /** Did this statement already report `rule`? */
  reported(rule: RuleId): boolean;
  isNew(key: string | undefined): boolean;
}

export function checkUnit<T>(statements: ReadonlyArray<LintStatement<T>>, options: UnitOptions): UnitResult<T> {
  const { config, script } = options;
  const state = new UnitState(options.knowledge);
  const findings: UnitResult<T>['findings'] = [];
  const riskRaisers: UnitResult<T>['riskRaisers'] = [];
  prescan(statements, state);

  let block = 0; // open BEGIN … COMMIT block number, 0 when none
  let blocks = 0;
  statements.forEach((s, i) => {
    const [type, body] = unwrap(s.node);
    const txKey = script ? (block ? `b${block}` : `s${i}`) : s.txId !== undefined ? `t${s.txId}` : `s${i}`;
    if (txKey !== state.tx) {
      state.tx = txKey;
      state.held.clear();
      state.timeouts.tx = { lock: undefined, statement: undefined };
    }
    if (s.indexTable) state.indexTable.set(s.indexTable.index, s.indexTable.table);
    const here: Array<RuleId> = [];
    const scope: Scope = {
      type,
      body,
      text: s.text,
      label: oneLine(s.text, 70),
      index: i,
      script,
      inTx: s.inTransaction || block > 0,
      transactionalStep: !script && s.inTransaction,
      runnerGuarded: s.runnerGuarded,
      declaredLock: s.declaredLock,
      judgesDestructive: options.direction !== 'down',
      config,
      state,
      locks: statementLocks(s.node, state.lookup),
      report(rule, message, hint) {
        here.push(rule);
        if (RULES_BY_ID.get(rule)?.raisesRisk) riskRaisers.push({ rule, origin: s.origin });
        if (config.severities.has(rule)) findings.push({ finding: { rule, message, hint }, origin: s.origin });
      },
      reported: (rule) => here.includes(rule),
      isNew: (key) => key !== undefined && (state.created.has(key) || (state.droppedAt.get(key) ?? -1) > i),
    };

    if (type === 'TransactionStmt') {
      const kind = body['kind'] as string;
      if (script && (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START')) block = ++blocks;
      else if (script && ['TRANS_STMT_COMMIT', 'TRANS_STMT_ROLLBACK', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_PREPARE'].includes(kind)) block = 0;
    }
    trackTimeouts(scope);
    checkSteps(scope);
    checkIndexes(scope);
    checkAlterTable(scope);
    checkDestructive(scope);
    checkDataChange(scope);
    checkRewrites(scope);
    checkDomain(scope);
    checkLockTimeouts(scope);
    remember(scope);
  });

  return { findings, riskRaisers, touched: state.touched, links: state.links, created: state.created };
}

/** Index → table, tables dropped and created: what later statements change about earlier ones. */
function prescan<T>(statements: ReadonlyArray<LintStatement<T>>, state: UnitState): void {
  statements.forEach((s, i) => {
    const [type, body] = unwrap(s.node);
    if (type === 'IndexStmt') {
      const key = tableKey(body['relation'] as never);
      const name = body['idxname'] as string | undefined;
      if (key && name) state.indexTable.set(name, key);
    } else if (type === 'DropStmt' && body['removeType'] === 'OBJECT_TABLE') {
      for (const o of (body['objects'] as Node[] | undefined) ?? []) {
        const key = nameKey('List' in o ? names(o.List.items) : []);
        if (key && !state.droppedAt.has(key)) state.droppedAt.set(key, i);
      }
    } else if (type === 'CreateStmt') {
      const key = tableKey(body['relation'] as never);
      if (key) state.createdAtIndexes.set(key, [...(state.createdAtIndexes.get(key) ?? []), i]);
    }
  });
}

/** After the checks: the locks this statement took stay held until its transaction ends. */
function remember(scope: Scope): void {
  for (const lock of scope.locks) {
    if (!lock.relation || scope.isNew(lock.relation) || !isStrong(lock.mode)) continue;
    const held = scope.state.held.get(lock.relation);
    scope.state.held.set(lock.relation, { mode: held ? stronger(held.mode, lock.mode) : lock.mode, by: held && held.mode === stronger(held.mode, lock.mode) ? held.by : scope.label });
  }
}

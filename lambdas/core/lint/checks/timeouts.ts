import type { Node } from 'libpg-query';
import { constValue, display, names } from '../ast.ts';
import { blocked, isStrong, strength, type RelationLock } from '../lock-levels.ts';
import { DATA_API_STATEMENT_LIMIT_MS, timeoutMs } from '../timeout-values.ts';
import type { Scope } from '../unit.ts';

/**
 * lock_timeout and statement_timeout: what is in force (SET, SET LOCAL, RESET, set_config), and
 * the rules that need them. A strong-lock statement without a lock_timeout can queue behind a long
 * transaction, and every later query on the table queues behind it. A statement_timeout bounds
 * how long the lock is then held; it must fit the Data API's 45 s, and CONCURRENTLY work must not
 * run under either (a cancelled build leaves an INVALID index).
 */
const SETTINGS = ['lock_timeout', 'statement_timeout'] as const;
type Setting = (typeof SETTINGS)[number];

export function trackTimeouts(scope: Scope): void {
  const { type, body } = scope;
  if (type === 'VariableSetStmt') {
    const name = (body['name'] as string | undefined)?.toLowerCase();
    if (name !== 'lock_timeout' && name !== 'statement_timeout') return;
    const kind = body['kind'] as string;
    const arg = (body['args'] as Node[] | undefined)?.[0];
    const ms = kind === 'VAR_SET_VALUE' ? timeoutMs(constValue(arg)) : kind === 'VAR_SET_DEFAULT' || kind === 'VAR_RESET' ? 0 : undefined;
    if (ms === undefined) return;
    set(scope, name, ms, body['is_local'] === true);
  } else if (type === 'SelectStmt') {
    // SELECT set_config('lock_timeout', '2s', is_local)
    for (const call of setConfigCalls(body)) set(scope, call.name, call.ms, call.local);
  }
}

function set(scope: Scope, name: Setting, ms: number, local: boolean): void {
  const { state } = scope;
  const key = name === 'lock_timeout' ? 'lock' : 'statement';
  // A plain SET in a migration step does not outlive its Data API call outside the migration's transaction.
  if (local || !scope.script) {
    if (scope.inTx) state.timeouts.tx[key] = ms;
  } else {
    state.timeouts.session[key] = ms;
  }
  // 0 (RESET) is how CONCURRENTLY work gets rid of it; a strong-lock statement then finds none in force.
  if (name === 'statement_timeout' && (scope.script || scope.transactionalStep) && ms > DATA_API_STATEMENT_LIMIT_MS) {
    scope.report(
      'timeouts/statement-timeout',
      `statement_timeout = ${ms / 1000} s does not fit: through the Data API a statement in a transaction is cut at 45 s anyway, failing with StatementTimeoutException instead of PostgreSQL's clean cancel (57014), with its locks held until then`,
      "set it below the Data API's 45 s, e.g. SET statement_timeout = '40s'; work that needs longer belongs in a standalone step (autocommit, followed past 45 s) or in batches",
    );
  }
}

function setConfigCalls(body: Record<string, unknown>): Array<{ name: Setting; ms: number; local: boolean }> {
  const out: Array<{ name: Setting; ms: number; local: boolean }> = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'FuncCall') {
          const fn = value as { funcname?: Node[]; args?: Node[] };
          if (names(fn.funcname).at(-1)?.toLowerCase() === 'set_config') {
            const [name, val, local] = (fn.args ?? []).map((a) => constValue(a));
            const setting = typeof name === 'string' ? (name.toLowerCase() as Setting) : undefined;
            const ms = timeoutMs(val);
            if (setting && SETTINGS.includes(setting) && ms !== undefined) out.push({ name: setting, ms, local: local === true });
          }
        }
        visit(value);
      }
    }
  };
  visit(body);
  return out;
}

/** The strongest lock the statement takes on an existing relation, if strong. */
export function strongLock(scope: Scope): RelationLock | undefined {
  const strong = scope.locks.filter((l) => isStrong(l.mode) && !scope.isNew(l.relation));
  return strong.sort((a, b) => strength(b.mode) - strength(a.mode))[0];
}

const LOCK_TIMEOUT_HINT = {
  module: "make it a transactional step declared lock: 'strong' (sqlStep's defaults): the runner then sets a short lock_timeout in its transaction and retries on SQLSTATE 55P03 (a standalone step autocommits under the role's lock_timeout)",
  script: "SET lock_timeout = '2s' before it (SET LOCAL inside BEGIN … COMMIT), and retry the file on SQLSTATE 55P03 (lock_not_available)",
};

export function checkLockTimeouts(scope: Scope): void {
  const lock = strongLock(scope);
  if (!lock) return;
  if (!scope.runnerGuarded && scope.state.lockTimeout() === 0) {
    scope.report(
      'timeouts/lock-timeout',
      `${scope.label} takes ${lock.mode} on ${lock.label} with no lock_timeout in force: queued behind a long transaction, it blocks ${blocked(lock.mode)} on ${lock.label} for every later query until it gets the lock`,
      scope.script ? LOCK_TIMEOUT_HINT.script : LOCK_TIMEOUT_HINT.module,
    );
  }
  if (scope.script && scope.state.statementTimeout() === 0) {
    scope.report(
      'timeouts/statement-timeout',
      `${scope.label} takes ${lock.mode} on ${lock.label} with no statement_timeout in force: if it runs long, ${blocked(lock.mode)} on ${lock.label} wait for as long as it runs`,
      "SET statement_timeout = '40s' before it (below the Data API's 45 s; SET LOCAL inside BEGIN … COMMIT); RESET it before CONCURRENTLY work",
    );
  }
}

/** CONCURRENTLY work waits for older transactions: a short timeout cancels it and leaves an INVALID index. */
export function checkConcurrentBuild(scope: Scope, label: string): void {
  if (scope.declaredLock === 'strong') {
    scope.report(
      'timeouts/concurrent-build',
      `${label} runs in a step declared lock: 'strong', which promises the runner's short lock_timeout: that cancels it while it waits for older transactions, leaving an INVALID index`,
      "declare the step lock: 'concurrent' (createIndex/dropIndex do), so the runner gives it a long lock_timeout",
    );
  } else if (scope.script && (scope.state.lockTimeout() > 0 || scope.state.statementTimeout() > 0)) {
    const which = [scope.state.lockTimeout() > 0 && 'lock_timeout', scope.state.statementTimeout() > 0 && 'statement_timeout'].filter(Boolean).join(' and ');
    scope.report(
      'timeouts/concurrent-build',
      `${label} runs under the ${which} set earlier: it is cancelled while it waits for older transactions or builds, leaving an INVALID index`,
      `RESET ${which.replace(' and ', '; RESET ')} before CONCURRENTLY work; keep the short timeouts for the strong-lock DDL only`,
    );
  }
}

/**
 * Full-table work in a transactional step: the Data API cancels a statement after 45 s, which fails
 * the step and rolls back its migration. Checked for module steps only.
 */
export function reportLongStep(scope: Scope, what: string, table: string, verify?: string): void {
  if (!scope.transactionalStep) return;
  scope.report(
    'timeouts/long-transactional-step',
    `${what} reads every row of ${display(table)} in a transactional step: on a big table it can run past the Data API's 45 s statement timeout, which fails the step and rolls its migration back`,
    `move it to a standalone step with a post-condition — sqlStep('…', { mode: 'standalone', lock: 'none', verify: ${verify ? JSON.stringify(verify) : "'SELECT …'"} }) (one row, true when done) — or split the work into batches (… WHERE id >= … AND id < …), each well under 45 s`,
  );
}

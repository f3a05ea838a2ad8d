/**
 * The revision graph.
 *
 * Contract:
 * - `MigrationGraph.build(migrations)` validates the files alone and throws `MigrationGraphError`
 *   (message names the files) on: a duplicate revision, a missing down revision, a cycle, and a
 *   squash whose `replaces` is malformed. Several heads are allowed here; `head` refuses them.
 * - Nodes are the *effective* migrations: every migration except those replaced by a squash
 *   (a migration with `replaces: [...]`). A down revision that names a replaced revision points at
 *   the squash instead, so later migrations may keep pointing at a replaced revision, and the
 *   replaced files may be deleted without changing anything.
 * - `appliedState(ledgerRevisions)` maps what the ledger holds onto nodes: a squash counts as
 *   applied when it, or every revision it replaces, is in the ledger; when only some replaced
 *   revisions are there it is `partial` (the planner runs the missing originals, then records it).
 * - `verifyLedger(rows)` refuses an applied revision no file declares and a changed checksum
 *   (`ChecksumMismatchError`).
 * - `upgradeTargets` / `downgradeTargets` resolve Alembic-style targets (head, heads, base, REV,
 *   unique revision prefix, +N, -N) into the ordered node revisions to apply or revert.
 * Order everywhere is topological, ties broken by file name (file names start with a timestamp).
 */
import { ChecksumMismatchError, MigrationGraphError } from '../errors.ts';
import type { LoadedMigration } from './model.ts';

export interface LedgerRevision {
  revision: string;
  checksum: string;
}

export interface AppliedState {
  /** Effective nodes counted as applied. */
  applied: Set<string>;
  /** Squash revision → the replaced revisions already applied (some, not all, and the squash is not recorded). */
  partial: Map<string, string[]>;
  /** Squashes applied through their originals only, not yet recorded under their own revision. */
  unrecordedSquashes: string[];
}

const label = (m: LoadedMigration) => `${m.file} (${m.revision})`;

export class MigrationGraph {
  /** Every loaded migration by revision, replaced originals included. */
  readonly all: ReadonlyMap<string, LoadedMigration>;
  /** Effective nodes by revision. */
  readonly nodes: ReadonlyMap<string, LoadedMigration>;
  /** Replaced revision → the squash that replaces it. */
  readonly replacedBy: ReadonlyMap<string, string>;
  /** Node → its parents (effective down revisions). */
  readonly parents: ReadonlyMap<string, readonly string[]>;
  readonly children: ReadonlyMap<string, readonly string[]>;
  /** Nodes in topological order. */
  readonly order: readonly string[];

  private constructor(
    all: Map<string, LoadedMigration>,
    nodes: Map<string, LoadedMigration>,
    replacedBy: Map<string, string>,
    parents: Map<string, string[]>,
    children: Map<string, string[]>,
    order: string[],
  ) {
    this.all = all;
    this.nodes = nodes;
    this.replacedBy = replacedBy;
    this.parents = parents;
    this.children = children;
    this.order = order;
  }

  static build(migrations: readonly LoadedMigration[]): MigrationGraph {
    const all = new Map<string, LoadedMigration>();
    for (const m of migrations) {
      const existing = all.get(m.revision);
      if (existing) {
        throw new MigrationGraphError(`duplicate revision ${m.revision}: declared by both ${existing.file} and ${m.file}`, {
          context: { revision: m.revision, files: [existing.file, m.file] },
        });
      }
      all.set(m.revision, m);
    }

    const replacedBy = new Map<string, string>();
    for (const m of migrations) {
      for (const r of m.replaces) {
        if (r === m.revision) throw new MigrationGraphError(`${label(m)}: a squash cannot replace itself`, { context: { file: m.file } });
        const other = replacedBy.get(r);
        if (other) {
          throw new MigrationGraphError(`revision ${r} is replaced by two squashes: ${all.get(other)!.file} and ${m.file}`, {
            context: { revision: r, files: [all.get(other)!.file, m.file] },
          });
        }
        replacedBy.set(r, m.revision);
      }
    }
    for (const [r, s] of replacedBy) {
      if (replacedBy.has(s)) {
        throw new MigrationGraphError(`${all.get(s)!.file}: squash ${s} is itself replaced; squash the originals directly`, {
          context: { file: all.get(s)!.file, replaced: r },
        });
      }
    }

    const nodes = new Map([...all].filter(([rev]) => !replacedBy.has(rev)));
    const effective = (rev: string) => replacedBy.get(rev) ?? rev;

    const parents = new Map<string, string[]>();
    const children = new Map<string, string[]>([...nodes.keys()].map((r) => [r, []]));
    for (const m of nodes.values()) {
      const ps: string[] = [];
      for (const d of m.downRevisions) {
        if (!all.has(d) && !replacedBy.has(d)) {
          throw new MigrationGraphError(`${m.file}: down revision ${d} does not exist (no migration file declares it)`, {
            context: { file: m.file, revision: m.revision, downRevision: d },
          });
        }
        const p = effective(d);
        if (p === m.revision) continue; // a squash whose originals pointed at each other
        if (!ps.includes(p)) ps.push(p);
      }
      parents.set(m.revision, ps);
      for (const p of ps) children.get(p)!.push(m.revision);
    }

    // Kahn's algorithm; ties by file name so the order is the chronological one people expect.
    const indegree = new Map([...parents].map(([r, ps]) => [r, ps.length]));
    const byFile = (a: string, b: string) => nodes.get(a)!.file.localeCompare(nodes.get(b)!.file) || a.localeCompare(b);
    const ready = [...indegree].filter(([, n]) => n === 0).map(([r]) => r).sort(byFile);
    const order: string[] = [];
    while (ready.length) {
      const r = ready.shift()!;
      order.push(r);
      for (const c of children.get(r)!) {
        indegree.set(c, indegree.get(c)! - 1);
        if (indegree.get(c) === 0) {
          ready.push(c);
          ready.sort(byFile);
        }
      }
    }
    if (order.length !== nodes.size) {
      const cycle = findCycle(parents, new Set(order));
      throw new MigrationGraphError(`cycle in down revisions: ${cycle.map((r) => label(nodes.get(r)!)).join(' → ')}`, {
        context: { files: cycle.map((r) => nodes.get(r)!.file) },
      });
    }
    return new MigrationGraph(all, nodes, replacedBy, parents, children, order);
  }

  get(revision: string): LoadedMigration {
    const m = this.all.get(revision);
    if (!m) throw new MigrationGraphError(`unknown revision ${revision}`, { context: { revision } });
    return m;
  }

  heads(): string[] {
    return this.order.filter((r) => this.children.get(r)!.length === 0);
  }

  /** The single head, or an error naming every head's file. */
  head(): string | undefined {
    const heads = this.heads();
    if (heads.length > 1) {
      throw new MigrationGraphError(
        `several heads: ${heads.map((h) => label(this.nodes.get(h)!)).join(', ')}; merge them with \`offpeak merge heads\` (a merge migration with downRevision: [${heads.map((h) => `'${h}'`).join(', ')}] and no steps), or name one (\`upgrade heads\`, \`upgrade REV\`, \`new NAME --head REV\`)`,
        { context: { heads, files: heads.map((h) => this.nodes.get(h)!.file) } },
      );
    }
    return heads[0];
  }

  /** The nodes in `revs` and all their ancestors. */
  ancestors(revs: Iterable<string>): Set<string> {
    return reach(revs, this.parents);
  }

  /** The nodes in `revs` and all their descendants. */
  descendants(revs: Iterable<string>): Set<string> {
    return reach(revs, this.children);
  }

  /** Nodes between `from` (exclusive, null = base) and `to` (inclusive), in order. */
  path(from: string | null, to: string): string[] {
    const below = from === null ? new Set<string>() : this.ancestors([this.node(from)]);
    const target = this.ancestors([this.node(to)]);
    return this.order.filter((r) => target.has(r) && !below.has(r));
  }

  /** The node a revision stands for (a replaced revision stands for its squash). */
  node(revision: string): string {
    const r = this.replacedBy.get(revision) ?? revision;
    if (!this.nodes.has(r)) throw new MigrationGraphError(`unknown revision ${revision}`, { context: { revision } });
    return r;
  }

  /** A full revision or a unique prefix of one (as Alembic allows), mapped to its node. */
  resolveRevision(spec: string): string {
    if (this.all.has(spec) || this.replacedBy.has(spec)) return this.node(spec);
    const matches = [...new Set([...this.all.keys(), ...this.replacedBy.keys()])].filter((r) => r.startsWith(spec));
    if (matches.length === 1) return this.node(matches[0]!);
    if (matches.length > 1) {
      throw new MigrationGraphError(`revision prefix ${spec} is ambiguous: ${matches.sort().join(', ')}`, { context: { spec, matches } });
    }
    throw new MigrationGraphError(`unknown revision ${spec}: no migration file declares it (see \`offpeak history\`)`, { context: { spec } });
  }

  /** Maps ledger rows onto nodes. */
  appliedState(ledgerRevisions: Iterable<string>): AppliedState {
    const inLedger = new Set(ledgerRevisions);
    const applied = new Set<string>();
    const partial = new Map<string, string[]>();
    const unrecordedSquashes: string[] = [];
    for (const r of this.order) {
      const m = this.nodes.get(r)!;
      if (inLedger.has(r)) {
        applied.add(r);
        continue;
      }
      if (m.replaces.length === 0) continue;
      const done = m.replaces.filter((x) => inLedger.has(x));
      if (done.length === m.replaces.length) {
        applied.add(r);
        unrecordedSquashes.push(r);
      } else if (done.length > 0) partial.set(r, done);
    }
    return { applied, partial, unrecordedSquashes };
  }

  /** Heads of the applied nodes. */
  appliedHeads(applied: ReadonlySet<string>): string[] {
    return this.order.filter((r) => applied.has(r) && !this.children.get(r)!.some((c) => applied.has(c)));
  }

  /**
   * Refuses an applied revision that no file declares (and no squash replaces), and an applied
   * migration whose checksum changed.
   */
  verifyLedger(rows: readonly LedgerRevision[]): void {
    const [first] = this.ledgerProblems(rows);
    if (first) throw first;
  }

  /** What `verifyLedger` refuses, every problem, for status commands that show them as warnings. */
  ledgerProblems(rows: readonly LedgerRevision[]): MigrationGraphError[] {
    const problems: MigrationGraphError[] = [];
    for (const row of rows) {
      const m = this.all.get(row.revision);
      if (!m) {
        if (this.replacedBy.has(row.revision)) continue; // replaced and deleted: the squash stands for it
        problems.push(
          new MigrationGraphError(
            `revision ${row.revision} is applied in the database but no migration file declares it: restore its file, or downgrade with the file in place before deleting it`,
            { context: { revision: row.revision } },
          ),
        );
      } else if (m.checksum !== row.checksum) {
        problems.push(
          new ChecksumMismatchError(
            `${m.file} (${m.revision}) changed after it was applied (checksum ${row.checksum.slice(0, 12)} in the ledger, ${m.checksum.slice(0, 12)} now): restore the applied version and put the change in a new migration`,
            { context: { file: m.file, revision: m.revision, applied: row.checksum, current: m.checksum } },
          ),
        );
      }
    }
    return problems;
  }

  /**
   * Nodes to apply, in order, for an upgrade target:
   * `head` (the single head), `heads`, `REV` or a unique prefix, `+N` (the next N of the way to heads).
   */
  upgradeTargets(spec: string, applied: ReadonlySet<string>): string[] {
    const pending = (targets: Iterable<string>) => {
      const want = this.ancestors(targets);
      return this.order.filter((r) => want.has(r) && !applied.has(r));
    };
    if (spec === 'head') {
      const head = this.head();
      return head === undefined ? [] : pending([head]);
    }
    if (spec === 'heads') return pending(this.heads());
    const relative = /^\+(\d+)$/.exec(spec);
    if (relative) {
      const n = Number(relative[1]);
      const all = pending(this.heads());
      if (n > all.length) {
        throw new MigrationGraphError(`cannot upgrade +${n}: only ${all.length} migration(s) are pending`, { context: { spec } });
      }
      return all.slice(0, n);
    }
    if (spec === 'base') throw new MigrationGraphError('upgrade base makes no sense: use downgrade base', { context: { spec } });
    return pending([this.resolveRevision(spec)]);
  }

  /**
   * Nodes to revert, in order (children first), for a downgrade target:
   * `base` (everything), `REV` or a unique prefix (everything applied above it), `-N` (the last N applied).
   */
  downgradeTargets(spec: string, applied: ReadonlySet<string>): string[] {
    const reversed = this.order.filter((r) => applied.has(r)).reverse();
    if (spec === 'base') return reversed;
    const relative = /^-(\d+)$/.exec(spec);
    if (relative) {
      const n = Number(relative[1]);
      const appliedHeads = this.appliedHeads(applied);
      if (appliedHeads.length > 1) {
        throw new MigrationGraphError(
          `downgrade -${n} is ambiguous: ${appliedHeads.length} heads are applied (${appliedHeads.map((h) => label(this.nodes.get(h)!)).join(', ')}); give the revision to go back to (everything applied above it is reverted) or base`,
          { context: { spec, heads: appliedHeads } },
        );
      }
      if (n > reversed.length) {
        throw new MigrationGraphError(`cannot downgrade -${n}: only ${reversed.length} migration(s) are applied`, { context: { spec } });
      }
      return reversed.slice(0, n);
    }
    if (spec === 'head' || spec === 'heads' || spec.startsWith('+')) {
      throw new MigrationGraphError(`downgrade ${spec} makes no sense: give a revision, -N or base`, { context: { spec } });
    }
    const target = this.resolveRevision(spec);
    if (!applied.has(target)) {
      throw new MigrationGraphError(`cannot downgrade to ${spec}: ${label(this.nodes.get(target)!)} is not applied`, {
        context: { spec, file: this.nodes.get(target)!.file },
      });
    }
    const above = this.descendants([target]);
    above.delete(target);
    return reversed.filter((r) => above.has(r));
  }
}

function findCycle(parents: ReadonlyMap<string, readonly string[]>, acyclic: ReadonlySet<string>): string[] {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (r: string): string[] | undefined => {
    if (state.get(r) === 'done' || acyclic.has(r)) return undefined;
    if (state.get(r) === 'visiting') return [...stack.slice(stack.indexOf(r)), r];
    state.set(r, 'visiting');
    stack.push(r);
    for (const p of parents.get(r) ?? []) {
      const found = visit(p);
      if (found) return found;
    }
    stack.pop();
    state.set(r, 'done');
    return undefined;
  };
  for (const r of parents.keys()) {
    const found = visit(r);
    if (found) return found.reverse();
  }
  return [];
}

/** The nodes in `start` and every node reachable from them along `edges`. */
function reach(start: Iterable<string>, edges: ReadonlyMap<string, readonly string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length) {
    const r = stack.pop()!;
    if (seen.has(r)) continue;
    seen.add(r);
    stack.push(...(edges.get(r) ?? []));
  }
  return seen;
}

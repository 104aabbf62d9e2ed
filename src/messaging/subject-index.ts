/**
 * The subscription index: which subscriptions a published subject reaches. A trie with one
 * level per token, as nats-server's sublist: at each level a map of literal tokens plus one
 * `*` branch and one `>` branch, so a match walks at most (tokens x 2^wildcard branches) nodes
 * instead of testing every subscription.
 *
 * Matches are cached per subject (publishers repeat subjects) and the cache is dropped on any
 * change, which keeps it correct without tracking which entries a change touches.
 *
 * Invariants:
 * 1. A subscription is in exactly one node, the one its subject's tokens lead to.
 * 2. A node with no subscriptions and no children is removed, so the trie does not grow with
 *    subjects that were subscribed once (every request inbox, for one).
 * 3. `size` counts the subscriptions in the trie.
 */
import { assert } from "../util/assert.js";
import type { Subscription } from "./types.js";

/** Cached match results; past this many the cache starts over (bounded memory). */
export const MATCH_CACHE_ENTRIES_MAX = 4096;

/** What one subject reaches: plain subscriptions, and queue groups (each gets one member). */
export interface MatchResult {
  readonly plain: readonly Subscription[];
  /** One array per queue group name; members from every matching node. */
  readonly queues: readonly (readonly Subscription[])[];
}

const EMPTY: MatchResult = { plain: [], queues: [] };

class Node {
  next: Level | null = null;
  readonly plain = new Set<Subscription>();
  readonly queues = new Map<string, Set<Subscription>>();

  get empty(): boolean {
    return this.plain.size === 0 && this.queues.size === 0 && (this.next === null || this.next.empty);
  }
}

class Level {
  readonly literal = new Map<string, Node>();
  star: Node | null = null;
  rest: Node | null = null;

  get empty(): boolean {
    return this.literal.size === 0 && this.star === null && this.rest === null;
  }
}

export class SubjectIndex {
  private readonly root = new Level();
  private readonly cache = new Map<string, MatchResult>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  insert(sub: Subscription): void {
    let level = this.root;
    let node: Node | null = null;
    const tokens = sub.subject.split(".");
    for (let i = 0; i < tokens.length; i++) {
      node = childOf(level, tokens[i]!, true);
      if (i < tokens.length - 1) level = node.next ??= new Level();
    }
    assert(node !== null, "subscription subject has no tokens");
    if (sub.queue === undefined) node.plain.add(sub);
    else {
      let group = node.queues.get(sub.queue);
      if (!group) node.queues.set(sub.queue, (group = new Set()));
      group.add(sub);
    }
    this.count++;
    this.cache.clear();
  }

  /** Removes `sub`; false if it was not in the index. */
  remove(sub: Subscription): boolean {
    const tokens = sub.subject.split(".");
    const path: { level: Level; token: string; node: Node }[] = [];
    let level = this.root;
    for (const token of tokens) {
      const node = childOf(level, token, false);
      if (!node) return false;
      path.push({ level, token, node });
      if (!node.next) break;
      level = node.next;
    }
    if (path.length !== tokens.length) return false;
    const leaf = path[path.length - 1]!.node;
    let removed: boolean;
    if (sub.queue === undefined) removed = leaf.plain.delete(sub);
    else {
      const group = leaf.queues.get(sub.queue);
      removed = group?.delete(sub) ?? false;
      if (group && group.size === 0) leaf.queues.delete(sub.queue);
    }
    if (!removed) return false;
    this.count--;
    assert(this.count >= 0, "subscription count went negative");
    // Prune empty nodes from the leaf up (invariant 2).
    for (let i = path.length - 1; i >= 0; i--) {
      const { level: parent, token, node } = path[i]!;
      if (node.next?.empty) node.next = null;
      if (!node.empty) break;
      if (token === "*") parent.star = null;
      else if (token === ">") parent.rest = null;
      else parent.literal.delete(token);
    }
    this.cache.clear();
    return true;
  }

  /** The subscriptions `subject` (a valid publish subject) reaches. */
  match(subject: string): MatchResult {
    const hit = this.cache.get(subject);
    if (hit) return hit;
    if (this.count === 0) return EMPTY;
    const plain: Subscription[] = [];
    const queues = new Map<string, Subscription[]>();
    collect(this.root, subject.split("."), 0, plain, queues);
    const result: MatchResult =
      plain.length === 0 && queues.size === 0 ? EMPTY : { plain, queues: [...queues.values()] };
    if (this.cache.size >= MATCH_CACHE_ENTRIES_MAX) this.cache.clear();
    this.cache.set(subject, result);
    return result;
  }
}

function childOf(level: Level, token: string, create: true): Node;
function childOf(level: Level, token: string, create: false): Node | null;
function childOf(level: Level, token: string, create: boolean): Node | null {
  if (token === "*") {
    if (!level.star && create) level.star = new Node();
    return level.star;
  }
  if (token === ">") {
    if (!level.rest && create) level.rest = new Node();
    return level.rest;
  }
  let node = level.literal.get(token) ?? null;
  if (!node && create) level.literal.set(token, (node = new Node()));
  return node;
}

function collect(
  level: Level,
  tokens: readonly string[],
  i: number,
  plain: Subscription[],
  queues: Map<string, Subscription[]>,
): void {
  // `>` matches this token and everything after it (one or more tokens; i < tokens.length here).
  if (level.rest) addNode(level.rest, plain, queues);
  const last = i === tokens.length - 1;
  for (const node of [level.star, level.literal.get(tokens[i]!)]) {
    if (!node) continue;
    if (last) addNode(node, plain, queues);
    else if (node.next) collect(node.next, tokens, i + 1, plain, queues);
  }
}

function addNode(node: Node, plain: Subscription[], queues: Map<string, Subscription[]>): void {
  for (const s of node.plain) plain.push(s);
  for (const [name, group] of node.queues) {
    let into = queues.get(name);
    if (!into) queues.set(name, (into = []));
    for (const s of group) into.push(s);
  }
}

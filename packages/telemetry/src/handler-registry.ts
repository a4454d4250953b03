// Attached handlers, in a trie keyed by event name segments: `execute` walks one Map lookup per
// segment and stops at the first miss, so an event nobody listens to costs a few lookups and no
// allocation. Handler lists are copied on write, so a dispatch in progress is never disturbed by
// attach or detach (a handler detached mid-dispatch still sees the event it was called for).
import type { EventName } from './event-name';

export type Measurements = Readonly<Record<string, unknown>>;
export type Metadata = Readonly<Record<string, unknown>>;

/**
 * A handler, as in :telemetry: called synchronously with the event, its data and the config given
 * to `attach`. It may return a promise; if that rejects, the handler is detached like one that throws.
 */
export type Handler<Config = unknown> = (eventName: EventName, measurements: Measurements, metadata: Metadata, config: Config) => unknown;

export interface AttachedHandler {
  /** A string for handlers users attach; a symbol for internal ones (metrics), which users cannot name. */
  readonly id: string | symbol;
  readonly eventName: EventName;
  readonly handler: Handler<never>;
  readonly config: unknown;
  /** Internal handlers (metrics) are not listed, not detached by id, and catch their own errors. */
  readonly internal: boolean;
}

/**
 * A trie node. Children sit in two parallel arrays scanned with `===` while there are few of them
 * (cheaper than a Map lookup for the handful of segments a level usually has), and in a Map
 * beyond `MAP_THRESHOLD`.
 */
export interface TrieNode {
  segments: string[];
  nodes: TrieNode[];
  map: Map<string, TrieNode> | undefined;
  handlers: readonly AttachedHandler[];
}

const NO_HANDLERS: readonly AttachedHandler[] = Object.freeze([]);
const MAP_THRESHOLD = 8;

function newNode(): TrieNode {
  return { segments: [], nodes: [], map: undefined, handlers: NO_HANDLERS };
}

/** The child of `node` for `segment`, if any. */
export function childOf(node: TrieNode, segment: string): TrieNode | undefined {
  if (node.map !== undefined) return node.map.get(segment);
  const segments = node.segments;
  for (let index = 0; index < segments.length; index += 1) if (segments[index] === segment) return node.nodes[index];
  return undefined;
}

function addChild(node: TrieNode, segment: string, child: TrieNode): void {
  node.segments.push(segment);
  node.nodes.push(child);
  if (node.map !== undefined) node.map.set(segment, child);
  else if (node.segments.length > MAP_THRESHOLD) node.map = new Map(node.segments.map((key, index) => [key, node.nodes[index]!]));
}

function removeChild(node: TrieNode, segment: string): void {
  const index = node.segments.indexOf(segment);
  if (index === -1) return;
  node.segments.splice(index, 1);
  node.nodes.splice(index, 1);
  node.map?.delete(segment);
  if (node.map !== undefined && node.segments.length <= MAP_THRESHOLD) node.map = undefined;
}

export class HandlerRegistry {
  readonly root: TrieNode = newNode();
  /** Handler ids and the names each is attached to. */
  readonly #byId = new Map<string | symbol, AttachedHandler[]>();

  has(id: string | symbol): boolean {
    return this.#byId.has(id);
  }

  /** Adds `entries` (one per event name) under one id. */
  add(id: string | symbol, entries: readonly AttachedHandler[]): void {
    this.#byId.set(id, [...entries]);
    for (const entry of entries) {
      let node = this.root;
      for (const segment of entry.eventName) {
        let child = childOf(node, segment);
        if (child === undefined) {
          child = newNode();
          addChild(node, segment, child);
        }
        node = child;
      }
      node.handlers = Object.freeze([...node.handlers, entry]);
    }
  }

  /**
   * Removes every entry of `id`; false when it was not attached. With `only`, removes them only
   * if `only` is one of them: a handler that fails late (a promise that rejects) must not take
   * away another handler attached since under the same id.
   */
  remove(id: string | symbol, only?: AttachedHandler): boolean {
    const entries = this.#byId.get(id);
    if (entries === undefined || (only !== undefined && !entries.includes(only))) return false;
    this.#byId.delete(id);
    for (const entry of entries) this.#removeEntry(this.root, entry, 0);
    return true;
  }

  /** The handlers attached to exactly `eventName` (no validation: the caller validated it). */
  lookup(eventName: EventName): readonly AttachedHandler[] {
    let node: TrieNode | undefined = this.root;
    for (let index = 0; index < eventName.length && node !== undefined; index += 1) node = childOf(node, eventName[index]!);
    return node === undefined ? NO_HANDLERS : node.handlers;
  }

  /** Every public handler entry, in attach order per id. */
  list(): AttachedHandler[] {
    return [...this.#byId.values()].flat().filter((entry) => !entry.internal);
  }

  /** Removes `entry` below `node`; prunes nodes left with neither handlers nor children. */
  #removeEntry(node: TrieNode, entry: AttachedHandler, depth: number): boolean {
    if (depth === entry.eventName.length) {
      node.handlers = Object.freeze(node.handlers.filter((candidate) => candidate !== entry));
    } else {
      const segment = entry.eventName[depth]!;
      const child = childOf(node, segment);
      if (child !== undefined && this.#removeEntry(child, entry, depth + 1)) removeChild(node, segment);
    }
    return node.handlers.length === 0 && node.segments.length === 0;
  }
}

// Causal order of a correlation group: every event after its parent, siblings by timestamp.
import type { FoundationEvent } from './event';

function byTimestamp(a: FoundationEvent, b: FoundationEvent): number {
  return a.timestamp - b.timestamp || a.id - b.id;
}

/**
 * The events in causal order: a depth-first walk from the roots (events whose parent is not in
 * the group), children in timestamp order. Each event appears once, however malformed the
 * parent links (a cycle of parents is cut where the walk first meets it, and its events are
 * then placed by timestamp).
 */
export function causalOrder(events: readonly FoundationEvent[]): FoundationEvent[] {
  const sorted = [...events].sort(byTimestamp);
  const ids = new Set(sorted.map((event) => event.id));
  const children = new Map<number, FoundationEvent[]>();
  const roots: FoundationEvent[] = [];
  for (const event of sorted) {
    if (event.parentId !== null && event.parentId !== event.id && ids.has(event.parentId)) {
      const siblings = children.get(event.parentId);
      if (siblings === undefined) children.set(event.parentId, [event]);
      else siblings.push(event);
    } else {
      roots.push(event);
    }
  }
  const result: FoundationEvent[] = [];
  const placed = new Set<number>();
  const visit = (start: FoundationEvent): void => {
    // Iterative, so a long chain cannot overflow the stack.
    const stack: FoundationEvent[] = [start];
    while (stack.length > 0) {
      const event = stack.pop()!;
      if (placed.has(event.id)) continue;
      placed.add(event.id);
      result.push(event);
      const next = children.get(event.id);
      if (next !== undefined) for (let index = next.length - 1; index >= 0; index -= 1) stack.push(next[index]!);
    }
  };
  for (const root of roots) visit(root);
  // Events only reachable through a cycle of parent links.
  for (const event of sorted) if (!placed.has(event.id)) visit(event);
  return result;
}

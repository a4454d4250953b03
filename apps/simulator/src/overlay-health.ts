// Health of the overlay formed by the live nodes' active views: how much of it one broadcast can
// reach (the largest connected component), who is cut off, and whether links are symmetric as
// HyParView keeps them.

export interface OverlayHealth {
  readonly liveNodes: number;
  /** Connected components of the undirected graph of links between live nodes. */
  readonly components: number;
  /** Share of the live nodes in the largest component (1: one broadcast can reach everyone). */
  readonly largestComponentShare: number;
  /** Live nodes without a link to any other live node. */
  readonly isolatedNodes: number;
  /** Share of live → live active-view entries whose reverse entry exists (1 when every link is symmetric). */
  readonly symmetry: number;
  /** Active-view entries that still name a crashed node (failures not yet detected). */
  readonly deadEntries: number;
  /** Mean number of live nodes in a live node's active view. */
  readonly meanActiveView: number;
}

/** `views.get(node)` is a live node's active view; every key is a live node, any other name is a crashed one. */
export function overlayHealth(views: ReadonlyMap<string, readonly string[]>): OverlayHealth {
  const ids = [...views.keys()];
  const index = new Map(ids.map((id, position) => [id, position]));
  const count = ids.length;
  const neighbours: Set<number>[] = ids.map(() => new Set<number>());
  const members: Set<string>[] = ids.map((id) => new Set(views.get(id)));
  let entries = 0;
  let symmetric = 0;
  let dead = 0;
  let liveEntries = 0;
  ids.forEach((id, node) => {
    for (const peer of views.get(id)!) {
      const other = index.get(peer);
      if (other === undefined) {
        dead += 1;
        continue;
      }
      if (other === node) continue;
      entries += 1;
      liveEntries += 1;
      if (members[other]!.has(id)) symmetric += 1;
      neighbours[node]!.add(other);
      neighbours[other]!.add(node);
    }
  });
  const component = new Int32Array(count).fill(-1);
  const queue = new Int32Array(Math.max(1, count));
  let components = 0;
  let largest = 0;
  let isolated = 0;
  for (let start = 0; start < count; start += 1) {
    if (neighbours[start]!.size === 0) isolated += 1;
    if (component[start] !== -1) continue;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    component[start] = components;
    while (head < tail) {
      const node = queue[head++]!;
      for (const next of neighbours[node]!) {
        if (component[next] !== -1) continue;
        component[next] = components;
        queue[tail++] = next;
      }
    }
    components += 1;
    if (tail > largest) largest = tail;
  }
  return {
    liveNodes: count,
    components,
    largestComponentShare: count === 0 ? 1 : largest / count,
    isolatedNodes: isolated,
    symmetry: entries === 0 ? 1 : symmetric / entries,
    deadEntries: dead,
    meanActiveView: count === 0 ? 0 : liveEntries / count,
  };
}

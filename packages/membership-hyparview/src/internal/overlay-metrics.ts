// Overlay health, as the HyParView paper measures it (§5): connectivity, in-degree spread,
// clustering coefficient and mean shortest path, over the graph of active views among live nodes.
// Used by the simulations and the benchmark; not part of the public API.

export interface OverlayMetrics {
  readonly nodes: number;
  /** Connected components of the undirected graph (1 is the goal). */
  readonly components: number;
  /** Nodes outside the largest component. */
  readonly outsideLargest: number;
  /** Share of directed active-view entries whose reverse entry exists (1 when views are symmetric). */
  readonly symmetry: number;
  readonly inDegree: { readonly min: number; readonly max: number; readonly mean: number; readonly stddev: number };
  /** Mean local clustering coefficient of the undirected graph. */
  readonly clustering: number;
  /** Mean hop distance between reachable pairs, from `pathSources` BFS roots. */
  readonly meanShortestPath: number;
  /** Largest distance seen from those roots. */
  readonly diameterSeen: number;
}

/** Metrics of the graph where `views.get(node)` lists node's active view (only live nodes are keys). */
export function overlayMetrics(views: ReadonlyMap<string, readonly string[]>, pathSources = 100, seed = 1): OverlayMetrics {
  const ids = [...views.keys()];
  const index = new Map<string, number>();
  ids.forEach((id, position) => index.set(id, position));
  const n = ids.length;
  const undirected: Set<number>[] = ids.map(() => new Set<number>());
  const inDegree = new Int32Array(n);
  let entries = 0;
  let symmetric = 0;
  for (let node = 0; node < n; node += 1) {
    for (const peer of views.get(ids[node]!)!) {
      const other = index.get(peer);
      if (other === undefined || other === node) continue;
      entries += 1;
      inDegree[other]! += 1;
      if (views.get(peer)!.includes(ids[node]!)) symmetric += 1;
      undirected[node]!.add(other);
      undirected[other]!.add(node);
    }
  }
  // Components.
  const component = new Int32Array(n).fill(-1);
  const sizes: number[] = [];
  const queue = new Int32Array(Math.max(1, n));
  for (let start = 0; start < n; start += 1) {
    if (component[start] !== -1) continue;
    const label = sizes.length;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    component[start] = label;
    while (head < tail) {
      const node = queue[head++]!;
      for (const next of undirected[node]!) {
        if (component[next] !== -1) continue;
        component[next] = label;
        queue[tail++] = next;
      }
    }
    sizes.push(tail);
  }
  const largest = sizes.length === 0 ? 0 : Math.max(...sizes);
  // In-degree.
  let sum = 0;
  let squares = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (let node = 0; node < n; node += 1) {
    const degree = inDegree[node]!;
    sum += degree;
    squares += degree * degree;
    if (degree < min) min = degree;
    if (degree > max) max = degree;
  }
  const mean = n === 0 ? 0 : sum / n;
  // Clustering.
  let clustering = 0;
  for (let node = 0; node < n; node += 1) {
    const neighbours = [...undirected[node]!];
    const k = neighbours.length;
    if (k < 2) continue;
    let links = 0;
    for (let a = 0; a < k; a += 1) for (let b = a + 1; b < k; b += 1) if (undirected[neighbours[a]!]!.has(neighbours[b]!)) links += 1;
    clustering += (2 * links) / (k * (k - 1));
  }
  // Shortest paths from a deterministic sample of sources.
  let state = seed >>> 0 || 1;
  const nextRandom = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
  const distance = new Int32Array(n);
  let pathSum = 0;
  let pairs = 0;
  let diameter = 0;
  const sources = Math.min(n, pathSources);
  for (let sample = 0; sample < sources; sample += 1) {
    const source = sources === n ? sample : Math.floor(nextRandom() * n);
    distance.fill(-1);
    let head = 0;
    let tail = 0;
    queue[tail++] = source;
    distance[source] = 0;
    while (head < tail) {
      const node = queue[head++]!;
      for (const next of undirected[node]!) {
        if (distance[next] !== -1) continue;
        distance[next] = distance[node]! + 1;
        pathSum += distance[next];
        pairs += 1;
        if (distance[next] > diameter) diameter = distance[next]!;
        queue[tail++] = next;
      }
    }
  }
  return {
    nodes: n,
    components: sizes.length,
    outsideLargest: n - largest,
    symmetry: entries === 0 ? 1 : symmetric / entries,
    inDegree: { min: n === 0 ? 0 : min, max, mean, stddev: n === 0 ? 0 : Math.sqrt(Math.max(0, squares / n - mean * mean)) },
    clustering: n === 0 ? 0 : clustering / n,
    meanShortestPath: pairs === 0 ? 0 : pathSum / pairs,
    diameterSeen: diameter,
  };
}

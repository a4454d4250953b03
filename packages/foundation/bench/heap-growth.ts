// What holds a process's memory, and what grew, from V8 heap snapshots of it (soak.ts
// --snapshots writes one per node at the end of the warm-up and one at the end):
//
//   node ../../tooling/scripts/run-bench.mjs bench/heap-growth.ts [BEFORE.heapsnapshot] AFTER.heapsnapshot [--rows 30] [--min-kb 256]
//   (BENCH_NODE_ARGS=--max-old-space-size=4096 for snapshots above ~100 MB)
//
// For each object it computes the retained size (what would be freed with it: its subtree in the
// dominator tree, ArrayBuffer backing stores included) and names it by its shortest path from
// the roots, with class names in brackets. It prints the objects of AFTER that retain the most,
// largest first, and, given BEFORE, what the same paths retained there. A leak is a table whose
// retained size keeps growing from one run to a longer one; a table that fills up to a bound
// (Raft's log until its next snapshot, Plumtree's seen ids for 5 minutes, the flight recorder's
// 10,000 hops) grows the same way in a short run: compare with what the node's stats() report.
import { readFileSync } from 'node:fs';

interface HeapSnapshotFile {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: [string[]]; readonly edge_fields: string[]; readonly edge_types: [string[]] } };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
}

interface Retainer {
  readonly path: string;
  readonly what: string;
  readonly bytes: number;
}

/** Objects retaining at least `minBytes`, largest first, keyed by path. */
function retainers(file: string, minBytes: number): Map<string, Retainer> {
  const data = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshotFile;
  const meta = data.snapshot.meta;
  const { nodes, edges, strings } = data;
  const nodeFields = meta.node_fields.length;
  const edgeFields = meta.edge_fields.length;
  const count = nodes.length / nodeFields;
  const typeAt = meta.node_fields.indexOf('type');
  const nameAt = meta.node_fields.indexOf('name');
  const sizeAt = meta.node_fields.indexOf('self_size');
  const edgeCountAt = meta.node_fields.indexOf('edge_count');
  const edgeTypeAt = meta.edge_fields.indexOf('type');
  const edgeNameAt = meta.edge_fields.indexOf('name_or_index');
  const edgeToAt = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const type = (node: number): string => nodeTypes[nodes[node * nodeFields + typeAt]!]!;
  const name = (node: number): string => strings[nodes[node * nodeFields + nameAt]!]!;
  const firstEdge = new Uint32Array(count + 1);
  for (let node = 0, edge = 0; node < count; node += 1) {
    firstEdge[node] = edge;
    edge += nodes[node * nodeFields + edgeCountAt]!;
  }
  firstEdge[count] = edges.length / edgeFields;
  const strong = (edge: number): boolean => {
    const kind = edgeTypes[edges[edge * edgeFields + edgeTypeAt]!];
    return kind !== 'weak' && kind !== 'shortcut';
  };
  const target = (edge: number): number => edges[edge * edgeFields + edgeToAt]! / nodeFields;

  // Depth-first postorder from the roots (node 0).
  const postorder = new Int32Array(count).fill(-1);
  const byPostorder = new Int32Array(count);
  const nextEdge = new Uint32Array(count);
  const reached = new Uint8Array(count);
  let visited = 0;
  const stack = [0];
  reached[0] = 1;
  nextEdge[0] = firstEdge[0]!;
  while (stack.length > 0) {
    const node = stack[stack.length - 1]!;
    if (nextEdge[node]! < firstEdge[node + 1]!) {
      const edge = nextEdge[node]!;
      nextEdge[node] = edge + 1;
      if (!strong(edge)) continue;
      const to = target(edge);
      if (reached[to] === 0) {
        reached[to] = 1;
        nextEdge[to] = firstEdge[to]!;
        stack.push(to);
      }
    } else {
      stack.pop();
      postorder[node] = visited;
      byPostorder[visited] = node;
      visited += 1;
    }
  }
  // Predecessors, then immediate dominators (Cooper, Harvey and Kennedy's iterative algorithm).
  const predecessorStart = new Uint32Array(count + 1);
  for (let node = 0; node < count; node += 1) {
    if (reached[node] === 0) continue;
    for (let edge = firstEdge[node]!; edge < firstEdge[node + 1]!; edge += 1) if (strong(edge)) predecessorStart[target(edge) + 1] = predecessorStart[target(edge) + 1]! + 1;
  }
  for (let node = 0; node < count; node += 1) predecessorStart[node + 1] = predecessorStart[node + 1]! + predecessorStart[node]!;
  const predecessors = new Uint32Array(predecessorStart[count]!);
  const filled = predecessorStart.slice(0, count);
  for (let node = 0; node < count; node += 1) {
    if (reached[node] === 0) continue;
    for (let edge = firstEdge[node]!; edge < firstEdge[node + 1]!; edge += 1) {
      if (!strong(edge)) continue;
      const to = target(edge);
      predecessors[filled[to]!] = node;
      filled[to] = filled[to]! + 1;
    }
  }
  const dominator = new Int32Array(count).fill(-1);
  dominator[0] = 0;
  const intersect = (left: number, right: number): number => {
    let a = left;
    let b = right;
    while (a !== b) {
      while (postorder[a]! < postorder[b]!) a = dominator[a]!;
      while (postorder[b]! < postorder[a]!) b = dominator[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let position = visited - 1; position >= 0; position -= 1) {
      const node = byPostorder[position]!;
      if (node === 0) continue;
      let candidate = -1;
      for (let at = predecessorStart[node]!; at < predecessorStart[node + 1]!; at += 1) {
        const predecessor = predecessors[at]!;
        if (dominator[predecessor] === -1) continue;
        candidate = candidate === -1 ? predecessor : intersect(predecessor, candidate);
      }
      if (candidate !== -1 && dominator[node] !== candidate) {
        dominator[node] = candidate;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(count);
  for (let position = 0; position < visited; position += 1) {
    const node = byPostorder[position]!;
    retained[node] = retained[node]! + nodes[node * nodeFields + sizeAt]!;
    if (node !== 0) retained[dominator[node]!] = retained[dominator[node]!]! + retained[node];
  }

  // Names: the shortest path from the roots.
  const parent = new Int32Array(count).fill(-1);
  const via: string[] = new Array<string>(count);
  parent[0] = 0;
  const queue = [0];
  for (let head = 0; head < queue.length; head += 1) {
    const node = queue[head]!;
    for (let edge = firstEdge[node]!; edge < firstEdge[node + 1]!; edge += 1) {
      if (!strong(edge)) continue;
      const to = target(edge);
      if (parent[to] !== -1) continue;
      parent[to] = node;
      const kind = edgeTypes[edges[edge * edgeFields + edgeTypeAt]!];
      const label = edges[edge * edgeFields + edgeNameAt]!;
      via[to] = kind === 'element' || kind === 'hidden' ? `[${label}]` : String(strings[label]);
      queue.push(to);
    }
  }
  const pathOf = (node: number): string => {
    const parts: string[] = [];
    for (let at = node, depth = 0; at !== 0 && depth < 30; depth += 1) {
      const up = parent[at]!;
      const upName = name(up);
      const tag = type(up) === 'closure' ? `(fn ${upName})` : /^[A-Z]/.test(upName) && !['Map', 'Set', 'Array', 'Object'].includes(upName) ? `(${upName.slice(0, 30)})` : '';
      parts.push(`${tag}.${via[at]!}`);
      at = up;
    }
    return parts.reverse().join('');
  };
  const result = new Map<string, Retainer>();
  const found: number[] = [];
  for (let node = 1; node < count; node += 1) if (retained[node]! >= minBytes && type(node) !== 'synthetic' && parent[node] !== -1) found.push(node);
  found.sort((a, b) => retained[b]! - retained[a]!);
  for (const node of found) {
    const path = pathOf(node);
    if (!result.has(path)) result.set(path, { path, what: `${type(node)} ${name(node).split('\n')[0]!.slice(0, 30)}`, bytes: retained[node]! });
  }
  result.set('(total)', { path: '(total)', what: '', bytes: retained[0]! });
  return result;
}

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const files = args.filter((arg, index) => !arg.startsWith('--') && !args[index - 1]?.startsWith('--'));
if (files.length === 0 || files.length > 2) {
  console.error('usage: heap-growth.ts [BEFORE.heapsnapshot] AFTER.heapsnapshot [--rows 30] [--min-kb 256]');
  process.exit(2);
}
const minBytes = flag('min-kb', 256) * 1024;
const after = retainers(files.at(-1)!, minBytes);
const before = files.length === 2 ? retainers(files[0]!, 0) : undefined;
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(2).padStart(7);
console.log(`retained by the roots: ${before === undefined ? '' : `${mb(before.get('(total)')!.bytes)} MB -> `}${mb(after.get('(total)')!.bytes)} MB (V8 heap and ArrayBuffer memory)`);
console.log(`${before === undefined ? '' : ' before MB '}  after MB  object, and its shortest path from the roots`);
for (const row of [...after.values()].filter((row) => row.path !== '(total)').slice(0, flag('rows', 30))) {
  const earlier = before?.get(row.path);
  const was = before === undefined ? '' : earlier === undefined ? '        -  ' : `${mb(earlier.bytes)}    `;
  console.log(`${was}${mb(row.bytes)}   ${row.what}  ${row.path.length > 170 ? `…${row.path.slice(-170)}` : row.path}`);
}

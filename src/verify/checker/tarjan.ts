/**
 * Tarjan's strongly connected components, iterative (histories have hundreds of thousands of
 * nodes; recursion would overflow the stack). Returns only components that contain a cycle:
 * more than one node, or one node with an edge to itself.
 */
export function cyclicComponents(
  nodeCount: number,
  edges: ReadonlyMap<number, ReadonlySet<number>>,
): number[][] {
  const index = new Int32Array(nodeCount).fill(-1);
  const low = new Int32Array(nodeCount);
  const onStack = new Uint8Array(nodeCount);
  const stack: number[] = [];
  const result: number[][] = [];
  let next = 0;
  const empty: number[] = [];
  // Each frame: node and an iterator position over its successors.
  const frames: { v: number; succ: number[]; i: number }[] = [];
  for (let root = 0; root < nodeCount; root++) {
    if (index[root] !== -1) continue;
    const open = (v: number) => {
      index[v] = low[v] = next++;
      stack.push(v);
      onStack[v] = 1;
      const s = edges.get(v);
      frames.push({ v, succ: s ? [...s] : empty, i: 0 });
    };
    open(root);
    while (frames.length > 0) {
      const f = frames[frames.length - 1]!;
      if (f.i < f.succ.length) {
        const w = f.succ[f.i++]!;
        if (index[w] === -1) open(w);
        else if (onStack[w]) low[f.v] = Math.min(low[f.v]!, index[w]!);
        continue;
      }
      frames.pop();
      if (frames.length > 0) {
        const parent = frames[frames.length - 1]!;
        low[parent.v] = Math.min(low[parent.v]!, low[f.v]!);
      }
      if (low[f.v] === index[f.v]) {
        const comp: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          comp.push(w);
        } while (w !== f.v);
        if (comp.length > 1 || edges.get(f.v)?.has(f.v)) result.push(comp);
      }
    }
  }
  return result;
}

// Counts work rather than time: how often a piece of code walks a whole large map. A test of a
// bound on work asserts this count, which a slow or busy machine does not change.

/** How many times `run` iterates a Map of at least `size` entries (a whole-origin scan, in the registry). */
export function countScansOfMapsOf(size: number, run: () => void): number {
  const prototype = Map.prototype as unknown as Record<string | symbol, (...args: unknown[]) => unknown>;
  const names: (string | symbol)[] = [Symbol.iterator, 'entries', 'values', 'keys', 'forEach'];
  const originals = names.map((name) => prototype[name]!);
  let scans = 0;
  names.forEach((name, index) => {
    const original = originals[index]!;
    prototype[name] = function (this: Map<unknown, unknown>, ...args: unknown[]) {
      if (this.size >= size) scans += 1;
      return original.apply(this, args);
    };
  });
  try {
    run();
  } finally {
    names.forEach((name, index) => {
      prototype[name] = originals[index]!;
    });
  }
  return scans;
}

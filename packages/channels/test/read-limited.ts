/**
 * `bytes` behind a proxy that throws once its elements were read more often than a walk of its
 * heads needs (a few reads a byte), so that a walk that keeps going past the end fails at once.
 */
export function readLimited(bytes: Uint8Array): Uint8Array {
  let reads = 0;
  return new Proxy(bytes, {
    get(target, key) {
      if (typeof key === 'string' && key !== 'length') {
        reads += 1;
        if (reads > 16 * (target.length + 1)) throw new Error(`${reads} reads of ${target.length} bytes`);
      }
      // The walks read only elements and the length.
      return Reflect.get(target, key) as unknown;
    },
  });
}

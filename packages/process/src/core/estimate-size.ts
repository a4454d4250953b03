// A bounded estimate of the bytes a value holds, for memory figures in process and ecosystem
// info. It follows plain objects, arrays, Maps and Sets up to a node budget and guesses V8's
// layout (8-byte slots, 2-byte characters at worst); it is a gauge, not a heap snapshot. The
// values are messages and states, which may be anything: an object that cannot be read (a
// getter or a proxy trap that throws) counts as an empty one, and the estimate never throws.

const OBJECT_HEADER = 24;
const SLOT = 8;

export function estimateSize(value: unknown, budget = 1000): number {
  let remaining = budget;
  const seen = new Set<object>();
  const visit = (current: unknown): number => {
    remaining -= 1;
    if (remaining < 0) return 0;
    switch (typeof current) {
      case 'string':
        return 16 + current.length * 2;
      case 'number':
      case 'boolean':
      case 'undefined':
      case 'symbol':
      case 'bigint':
        return SLOT;
      case 'function':
        return 64;
      default:
        break;
    }
    if (current === null) return SLOT;
    const object = current as object;
    if (seen.has(object)) return SLOT;
    seen.add(object);
    try {
      return visitObject(object);
    } catch {
      return OBJECT_HEADER;
    }
  };
  const visitObject = (object: object): number => {
    if (ArrayBuffer.isView(object)) return OBJECT_HEADER + object.byteLength;
    if (object instanceof ArrayBuffer) return OBJECT_HEADER + object.byteLength;
    let total = OBJECT_HEADER;
    if (Array.isArray(object)) {
      for (const item of object) total += SLOT + visit(item);
      return total;
    }
    if (object instanceof Map) {
      for (const [key, item] of object) total += 2 * SLOT + visit(key) + visit(item);
      return total;
    }
    if (object instanceof Set) {
      for (const item of object) total += SLOT + visit(item);
      return total;
    }
    for (const key of Object.keys(object)) total += SLOT + visit((object as Record<string, unknown>)[key]);
    return total;
  };
  return visit(value);
}

// Structural hashing and size estimates of message payloads, for the trace hash and the
// per-link byte counters. Both walks are bounded (depth, number of values, string and buffer
// lengths) so a huge or cyclic payload costs a bounded amount. Where the size walk stops early,
// it counts the rest of an array, map, set or object as that many more entries of the average
// size of those it read, so a large payload is not taken for a small one (the frame limit).

const MAX_DEPTH = 12;
const MAX_VALUES = 256;
const MAX_STRING_CHARS = 1024;
const MAX_BYTES_HASHED = 1024;

const floatView = new Float64Array(1);
const wordView = new Uint32Array(floatView.buffer);

/** One step of a 32-bit multiplicative hash; `h` and `value` are treated as unsigned. */
export function mixInto(h: number, value: number): number {
  let k = Math.imul(value | 0, 0xcc9e_2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b87_3593);
  let next = (h ^ k) | 0;
  next = (next << 13) | (next >>> 19);
  return (Math.imul(next, 5) + 0xe654_6b64) | 0;
}

export function hashNumber(h: number, value: number): number {
  if (Number.isInteger(value) && value >= -0x8000_0000 && value <= 0x7fff_ffff) return mixInto(mixInto(h, 1), value);
  floatView[0] = value;
  return mixInto(mixInto(mixInto(h, 2), wordView[0]!), wordView[1]!);
}

export function hashString(h: number, text: string): number {
  let next = mixInto(mixInto(h, 3), text.length);
  const length = Math.min(text.length, MAX_STRING_CHARS);
  for (let index = 0; index < length; index += 1) next = mixInto(next, text.charCodeAt(index));
  return next;
}

// The walks below keep their budget in module state rather than in closures: they run for
// every simulated message, and a closure per call costs more than the walk itself.
let hashBudget = 0;

/** Folds a structural hash of `value` into `h`. Plain objects hash their keys in order. */
export function hashValue(h: number, value: unknown): number {
  hashBudget = MAX_VALUES;
  return hashWalk(h, value, 0);
}

function hashWalk(current: number, item: unknown, depth: number): number {
  hashBudget -= 1;
  if (hashBudget < 0) return mixInto(current, 99);
  switch (typeof item) {
    case 'number':
      return hashNumber(current, item);
    case 'string':
      return hashString(current, item);
    case 'boolean':
      return mixInto(mixInto(current, 4), item ? 1 : 0);
    case 'undefined':
      return mixInto(current, 5);
    case 'bigint':
      return hashString(mixInto(current, 6), item.toString(16));
    case 'symbol':
    case 'function':
      return mixInto(current, 7);
    default:
      break;
  }
  if (item === null) return mixInto(current, 8);
  if (depth >= MAX_DEPTH) return mixInto(current, 9);
  if (Array.isArray(item)) {
    let next = mixInto(mixInto(current, 10), item.length);
    for (let index = 0; index < item.length && hashBudget > 0; index += 1) next = hashWalk(next, item[index], depth + 1);
    return next;
  }
  if (ArrayBuffer.isView(item)) {
    const bytes = new Uint8Array(item.buffer, item.byteOffset, Math.min(item.byteLength, MAX_BYTES_HASHED));
    let next = mixInto(mixInto(current, 11), item.byteLength);
    for (let index = 0; index < bytes.length; index += 1) next = mixInto(next, bytes[index]!);
    return next;
  }
  if (item instanceof Map) {
    let next = mixInto(mixInto(current, 12), item.size);
    for (const [key, entry] of item) {
      if (hashBudget <= 0) break;
      next = hashWalk(hashWalk(next, key, depth + 1), entry, depth + 1);
    }
    return next;
  }
  if (item instanceof Set) {
    let next = mixInto(mixInto(current, 13), item.size);
    for (const entry of item) {
      if (hashBudget <= 0) break;
      next = hashWalk(next, entry, depth + 1);
    }
    return next;
  }
  let next = mixInto(current, 14);
  for (const key in item as Record<string, unknown>) {
    if (hashBudget <= 0) break;
    next = hashWalk(hashString(next, key), (item as Record<string, unknown>)[key], depth + 1);
  }
  return next;
}

let sizeBudget = 0;

/**
 * An estimate of the encoded size of `value` in bytes (close to CBOR for small values), used
 * for byte counters and the frame size limit. Buffers count exactly; the walk is bounded, and
 * what it leaves unread of a collection counts at the average size of what it read.
 */
export function estimateSize(value: unknown): number {
  sizeBudget = MAX_VALUES * 4;
  return sizeWalk(value, 0);
}

/** `read` entries took `total` bytes; the collection has `count`: the estimate for all of them. */
function extrapolate(total: number, read: number, count: number): number {
  if (read >= count) return total;
  return total + (count - read) * Math.max(1, read === 0 ? 1 : total / read);
}

function sizeWalk(item: unknown, depth: number): number {
  sizeBudget -= 1;
  if (sizeBudget < 0) return 0;
  switch (typeof item) {
    case 'number':
      return 9;
    case 'string':
      return item.length + 3;
    case 'boolean':
    case 'undefined':
      return 1;
    case 'bigint':
      return 9;
    case 'symbol':
    case 'function':
      return 0;
    default:
      break;
  }
  if (item === null) return 1;
  if (ArrayBuffer.isView(item)) return item.byteLength + 5;
  if (item instanceof ArrayBuffer) return item.byteLength + 5;
  if (depth >= MAX_DEPTH) return 1;
  if (Array.isArray(item)) {
    let entries = 0;
    let index = 0;
    for (; index < item.length && sizeBudget > 0; index += 1) entries += sizeWalk(item[index], depth + 1);
    return 3 + extrapolate(entries, index, item.length);
  }
  if (item instanceof Map) {
    let entries = 0;
    let read = 0;
    for (const [key, entry] of item) {
      if (sizeBudget <= 0) break;
      entries += sizeWalk(key, depth + 1) + sizeWalk(entry, depth + 1);
      read += 1;
    }
    return 3 + extrapolate(entries, read, item.size);
  }
  if (item instanceof Set) {
    let entries = 0;
    let read = 0;
    for (const entry of item) {
      if (sizeBudget <= 0) break;
      entries += sizeWalk(entry, depth + 1);
      read += 1;
    }
    return 3 + extrapolate(entries, read, item.size);
  }
  let fields = 0;
  let read = 0;
  let count = 0;
  for (const key in item as Record<string, unknown>) {
    count += 1;
    // Past the budget the keys are only counted (cheaper than building the object was).
    if (sizeBudget <= 0) continue;
    fields += key.length + 2 + sizeWalk((item as Record<string, unknown>)[key], depth + 1);
    read += 1;
  }
  return 3 + extrapolate(fields, read, count);
}

/**
 * Size estimate and structural hash of a payload in one bounded walk, for the send path of the
 * simulation. Results land in `size` and `hash`, so measuring allocates nothing.
 */
export class PayloadMeter {
  size = 0;
  hash = 0;
  private budget = 0;

  /** Whether this walk met a shape it does not size itself, or ran out of budget. */
  private irregular = false;

  measure(value: unknown, withHash: boolean): void {
    this.budget = MAX_VALUES;
    if (withHash) {
      this.hash = 0;
      this.irregular = false;
      this.size = this.walk(value, 0);
      // The walk sizes small payloads of plain values, arrays and objects exactly as
      // estimateSize does; anything else is sized by estimateSize itself, so that the byte
      // counters and the frame limit do not depend on the trace mode.
      if (this.irregular || this.budget <= 0) this.size = estimateSize(value);
    } else {
      this.size = estimateSize(value);
    }
  }

  private walk(item: unknown, depth: number): number {
    this.budget -= 1;
    if (this.budget < 0) {
      this.hash = mixInto(this.hash, 99);
      return 0;
    }
    switch (typeof item) {
      case 'number':
        this.hash = hashNumber(this.hash, item);
        return 9;
      case 'string':
        this.hash = hashString(this.hash, item);
        return item.length + 3;
      case 'boolean':
        this.hash = mixInto(mixInto(this.hash, 4), item ? 1 : 0);
        return 1;
      case 'undefined':
        this.hash = mixInto(this.hash, 5);
        return 1;
      default:
        break;
    }
    if (item === null) {
      this.hash = mixInto(this.hash, 8);
      return 1;
    }
    if (typeof item !== 'object' || depth >= MAX_DEPTH || item instanceof Map || item instanceof Set || ArrayBuffer.isView(item) || item instanceof ArrayBuffer) {
      // Rare shapes: the separate walks handle them.
      this.hash = hashValue(this.hash, item);
      this.irregular = true;
      return 0;
    }
    let total = 3;
    if (Array.isArray(item)) {
      this.hash = mixInto(mixInto(this.hash, 10), item.length);
      for (let index = 0; index < item.length && this.budget > 0; index += 1) total += this.walk(item[index], depth + 1);
      return total;
    }
    this.hash = mixInto(this.hash, 14);
    for (const key in item as Record<string, unknown>) {
      if (this.budget <= 0) break;
      this.hash = hashString(this.hash, key);
      total += key.length + 2 + this.walk((item as Record<string, unknown>)[key], depth + 1);
    }
    return total;
  }
}

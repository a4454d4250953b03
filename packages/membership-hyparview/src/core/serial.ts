// Topology epochs and size-estimation rounds as serial numbers (RFC 1982, SERIAL_BITS = 31):
// they count up and wrap after 2^31 − 1, the largest the decoder accepts, and `a` comes after
// `b` when it is less than half the space ahead of it. Compared as plain integers, one value at
// the top of the range (a bug, or a member that sends it on purpose) was followed by the whole
// cluster, and the next one, above the range, was refused everywhere: size estimation stalled
// and the node proposing the next switch cut itself off. As serial numbers, the next one wraps
// and still comes after. Cluster values stay far below half the space (a switch every cooldown,
// a round every interval), so for them the two orders agree.

/** Values on the wire: 0 .. 2^31 − 1. */
export const SERIAL_SPACE = 2 ** 31;
const HALF = 2 ** 30;

/** True when `a` comes after `b` (RFC 1982 §3.2). */
export function serialAfter(a: number, b: number): boolean {
  const distance = (((a - b) % SERIAL_SPACE) + SERIAL_SPACE) % SERIAL_SPACE;
  return distance !== 0 && distance < HALF;
}

/** The value after `value`, wrapping at the top of the range. */
export function serialNext(value: number): number {
  return (value + 1) % SERIAL_SPACE;
}

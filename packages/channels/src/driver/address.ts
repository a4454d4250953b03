// The address a dial goes to, checked before ws sees it. ws throws from its constructor on a
// URL it cannot dial, and a dial runs from a timer too (a reconnect attempt that has just looked
// the address up), where a throw is an uncaught exception that ends the process. An address may
// come from anywhere: a table, a resolver fed by gossip (a hostile member's), a typo.

/** What every failed lookup of a node's address reports. */
export const NO_ADDRESS = 'no address known for this node';

/** A node's address as a lookup found it: a URL to dial, or why there is none. */
export type AddressLookup = { readonly url: string; readonly reason?: undefined } | { readonly url: undefined; readonly reason: string };

/** The protocols ws dials (it takes http: and https: for ws: and wss:). */
const DIALABLE_PROTOCOLS = new Set(['ws:', 'wss:', 'http:', 'https:', 'ws+unix:']);

/** Whether ws takes `value` as the URL of a dial (the checks its constructor makes). */
export function isDialable(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (!DIALABLE_PROTOCOLS.has(url.protocol) || url.hash !== '') return false;
  return url.protocol !== 'ws+unix:' || url.pathname !== '';
}

/**
 * A lookup's result as an address to dial. One that cannot be dialed counts as none, and the
 * reason says so without quoting it (a URL may hold credentials).
 */
export function checkAddress(value: unknown): AddressLookup {
  if (value === undefined || value === null) return { url: undefined, reason: NO_ADDRESS };
  if (!isDialable(value)) return { url: undefined, reason: `${NO_ADDRESS}: the address found for it is not a ws:// or wss:// URL` };
  return { url: value };
}

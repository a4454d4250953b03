// Whether a value the config serves is the same as another, for telling subscribers only of
// changes. Plain data is compared by its contents, as the config owns and understands it. Any
// other object a transform returns (a class instance, a Map, a URL) is the transform's value,
// which the config never looks into: its state may be out of a comparison's sight (a private
// field, a closure, a WeakMap, as secret wrappers keep theirs), so two such objects are the same
// only when they are one object. A Date holds nothing but its time and is compared by it.
import { isRecord } from './plain-data';

export function isSameServedValue(left: unknown, right: unknown): boolean {
  // Pairs already being compared, for the cycles a transform's output may hold: assumed equal
  // until a difference elsewhere shows otherwise.
  const comparing = new Map<object, Set<object>>();
  const same = (a: unknown, b: unknown): boolean => {
    if (Object.is(a, b)) return true;
    if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (a instanceof Date && Object.getPrototypeOf(a) === Date.prototype) return Object.is(a.getTime(), (b as Date).getTime());
    const isArray = Array.isArray(a);
    if (!isArray && !isRecord(a)) return false;
    let partners = comparing.get(a);
    if (partners?.has(b) === true) return true;
    if (partners === undefined) comparing.set(a, (partners = new Set()));
    partners.add(b);
    if (isArray && (a as unknown[]).length !== (b as unknown[]).length) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    for (const key of keys) {
      if (!Object.prototype.hasOwnProperty.call(b, key)) return false;
      if (!same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
    }
    return true;
  };
  return same(left, right);
}

/**
 * A view of `base` with `extras` added, for handing out a package's service with the
 * cluster-wide operations beside its own. Methods of `base` stay bound to it, so classes with
 * private fields keep working; `base` itself is not changed.
 */
export function extend<Base extends object, Extras extends object>(base: Base, extras: Extras): Base & Extras {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(base, {
    get(target, property) {
      if (Object.prototype.hasOwnProperty.call(extras, property)) return (extras as Record<PropertyKey, unknown>)[property];
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let method = bound.get(property);
      if (method === undefined) {
        method = (value as (...args: unknown[]) => unknown).bind(target);
        bound.set(property, method);
      }
      return method;
    },
    has(target, property) {
      return Object.prototype.hasOwnProperty.call(extras, property) || Reflect.has(target, property);
    },
  }) as Base & Extras;
}

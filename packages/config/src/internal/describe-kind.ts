/**
 * What a value is, in words (`a number`, `null`, `a Map`), for messages about options of the
 * wrong type. Never the value itself: an option may hold a secret, and messages go to logs.
 */
export function describeKind(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Map) return 'a Map';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

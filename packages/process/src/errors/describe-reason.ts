/** A short text for an exit reason, for messages and error contexts. */
export function describeReason(reason: unknown): string {
  if (typeof reason === 'string') return reason.length > 200 ? `${reason.slice(0, 200)}…` : reason;
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  return typeof reason;
}

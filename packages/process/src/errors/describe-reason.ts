// Exit reasons for messages and error fields. A reason is whatever a process threw or exited
// with, so even asking what it is may throw (a getter, a proxy whose traps throw, a revoked
// proxy); these never do, since they run while a process's exit is being handled.

/** The reason as an Error, when it is one; undefined for anything else, and for what cannot be inspected. */
export function errorOf(reason: unknown): Error | undefined {
  try {
    return reason instanceof Error ? reason : undefined;
  } catch {
    return undefined;
  }
}

/** A short text for an exit reason, for messages and error contexts. */
export function describeReason(reason: unknown): string {
  if (typeof reason === 'string') return reason.length > 200 ? `${reason.slice(0, 200)}…` : reason;
  const error = errorOf(reason);
  if (error !== undefined) {
    try {
      return `${String(error.name)}: ${String(error.message)}`;
    } catch {
      // An Error whose name or message cannot be read: described by its type.
    }
  }
  return typeof reason;
}

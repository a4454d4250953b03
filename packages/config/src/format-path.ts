// Paths in messages, kept apart so that error classes can format paths without importing the parser.

/** A path for messages: `dev.debugMode`, or JSON when a key holds a dot or is empty. */
export function formatPath(path: readonly string[]): string {
  if (path.length === 0) return '(root)';
  return path.some((segment) => segment.includes('.') || segment === '') ? JSON.stringify(path) : path.join('.');
}

/** A command-line argument the simulator cannot run with; the CLI prints it with the usage and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

// What a check found: passed, failed (a finding), or could not decide.
export interface CheckOutcome {
  readonly name: string;
  readonly status: 'pass' | 'fail' | 'unknown';
  /** One line for the table. */
  readonly summary: string;
  /** Lines of evidence (history excerpts, views, digests). */
  readonly details: readonly string[];
}

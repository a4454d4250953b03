// What a process does with an exit signal, by the BEAM's rules:
//   - `kill` sent with exit(pid, 'kill') cannot be trapped: the target dies with `killed`;
//   - a trapping process turns every other signal into an `exit` message, except a
//     non-normal signal from its parent (its supervisor), which terminates it as OTP's
//     generic servers do so that supervisors can always shut their children down;
//   - a non-trapping process ignores `normal` (unless it sent the signal to itself) and dies
//     with any other reason.

export type ExitAction =
  | { readonly action: 'ignore' }
  | { readonly action: 'message' }
  /**
   * `untrappable` marks the end exit(pid, 'kill') brings: at once, without `terminate`. A
   * `killed` that arrives through a link is an ordinary reason and is not marked.
   */
  | { readonly action: 'terminate'; readonly reason: unknown; readonly untrappable?: true };

export interface ExitSignal {
  readonly reason: unknown;
  /** True when the signal comes from a broken link, false for exit(pid, reason). */
  readonly fromLink: boolean;
  /** True when the sender is the target itself. */
  readonly fromSelf: boolean;
  /** True when the sender is the target's parent (the supervisor that started it). */
  readonly fromParent: boolean;
}

const IGNORE: ExitAction = Object.freeze({ action: 'ignore' });
const MESSAGE: ExitAction = Object.freeze({ action: 'message' });

export function decideExit(signal: ExitSignal, trapping: boolean): ExitAction {
  const { reason } = signal;
  if (reason === 'kill' && !signal.fromLink) return { action: 'terminate', reason: 'killed', untrappable: true };
  if (trapping) {
    if (signal.fromParent && reason !== 'normal') return { action: 'terminate', reason };
    return MESSAGE;
  }
  if (reason === 'normal') return signal.fromSelf ? { action: 'terminate', reason: 'normal' } : IGNORE;
  return { action: 'terminate', reason };
}

/** Reasons a `transient` child is not restarted for, and that links do not propagate as errors. */
export function isNormalReason(reason: unknown): boolean {
  return reason === 'normal' || reason === 'shutdown';
}

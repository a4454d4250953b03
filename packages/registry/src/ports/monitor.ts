// The port through which a registration follows the life of what it names. @foundation/process
// satisfies it structurally: its runtime's `monitor(pid, onDown)` calls `onDown` once when the
// process exits (at once, with reason `noproc`, when it is not alive), and `demonitor(ref)`
// cancels. The registry monitors each registered target that is pid-like (see
// `monitorTargets`) and unregisters it when the target goes down, as 1.x registrations died
// with their process.

/** What the registry needs of a down notification. */
export interface MonitorDown {
  /** Why the target went away (`normal`, `killed`, `noproc`, `noconnection`, an Error...). */
  readonly reason: unknown;
}

export interface Monitor<Target = unknown> {
  /** Watches `target`; calls `onDown` once when it exits. Returns a reference for `demonitor`. */
  monitor(target: Target, onDown: (down: MonitorDown) => void): unknown;
  /** Stops watching; calling it after the target went down does nothing. */
  demonitor(reference: unknown): void;
}

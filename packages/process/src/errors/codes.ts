// Error codes of @foundation/process (range 5700–5799). Stable: never renumber a code.
export const PROCESS_ERROR_CODES = Object.freeze({
  /** The target process does not exist (never did, or has exited). */
  noProcess: 5701,
  /** A call got no reply within its timeout. */
  callTimeout: 5702,
  /** A bounded mailbox refused or dropped a message. */
  mailboxFull: 5703,
  /** The called process exited before it replied. */
  callExited: 5704,
  /** A pid that is malformed: from the wire, from a string, or built with bad fields. */
  invalidPid: 5705,
  /** A process name that is malformed. */
  invalidName: 5706,
  /** `register` with a name another process holds, or a process that already has a name. */
  nameTaken: 5707,
  /** The runtime is shutting down or stopped. */
  runtimeStopped: 5708,
  /** A supervisor request that cannot be honoured: unknown child, duplicate id, bad spec. */
  supervisor: 5709,
  /** A worker thread crashed, ran out of memory or exited while it hosted processes. */
  workerCrashed: 5710,
  /** A signal from another node that does not validate. */
  malformedSignal: 5711,
  /** An option that is out of range or of the wrong type. */
  invalidOption: 5712,
  /** A process does not handle this kind of request (a call to a behavior without `handleCall`). */
  unsupported: 5713,
  /** A remote node cannot be reached, or no router is configured for it. */
  noConnection: 5714,
  /** A message, call, reply or spawn argument for another thread that structured clone cannot copy (a function, a symbol, a class with private state), or a call for another node that the transport cannot encode. */
  uncloneableMessage: 5715,
  /** A thread-isolated process whose worker did not answer its spawn within `threads.startTimeoutMs`. */
  threadStartTimeout: 5716,
});

export type ProcessErrorKind = keyof typeof PROCESS_ERROR_CODES;

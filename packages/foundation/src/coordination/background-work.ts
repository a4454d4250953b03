// Best-effort work a part starts and nobody awaits (a lock's take-back, a late renewal's
// release), which its stop() must still end: each gets the signal stop() aborts, and stop()
// resolves once all of it has settled, so nothing proposes after the part has stopped.

export interface BackgroundWork {
  /**
   * Starts `work` with the signal stop() aborts, unless stop() was called: then nothing starts.
   * Its failure is dropped (the work is best effort: a lease it would end ends by itself).
   */
  run(work: (signal: AbortSignal) => Promise<unknown>): void;
  /** Aborts the signal, and resolves once every work started has settled. */
  stop(): Promise<void>;
}

export function createBackgroundWork(): BackgroundWork {
  const stopping = new AbortController();
  /** The work in flight, each settled (never rejected) once done. */
  const inFlight = new Set<Promise<void>>();
  return {
    run(work) {
      if (stopping.signal.aborted) return;
      const settled = work(stopping.signal).then(
        () => undefined,
        () => undefined,
      );
      inFlight.add(settled);
      void settled.then(() => inFlight.delete(settled));
    },
    async stop() {
      stopping.abort();
      await Promise.all(inFlight);
    },
  };
}

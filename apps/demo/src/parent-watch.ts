// Whether the process that started this one is gone: the demo's orchestrator stops then
// (main.ts says why).

/**
 * Calls `onGone` once, when the process that started this one has exited, which is when this
 * process gets another parent (init, or the nearest subreaper). Read from process.ppid rather than
 * by signalling the first parent's pid: that pid answers for as long as the dead parent is a
 * zombie its own parent has not reaped (for good under one that never reaps), and again once
 * another process is given it. The timer does not keep the process running. Returns a function
 * that stops watching.
 */
export function watchParent(onGone: () => void, intervalMs = 500): () => void {
  const parentPid = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parentPid) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Settles as `work` does, unless `signal` aborts first: then rejects at once with what `aborted`
 * makes of its reason (the reason as it is, by default), and `work` goes on unheard (its
 * rejection handled). The abort listener goes either way.
 */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, aborted: (reason: unknown) => Error = (reason) => reason as Error): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted(signal.reason));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

// Following what a measured function returned to its end, for spans (ours and OpenTelemetry's):
// a value ends it at once, a thenable when it settles. A thenable is anything with a `then`, so
// reading `then` or calling it can throw: that is the function's failure too, and still ends it.

/**
 * Returns `result`, or what its `then` returns, after arranging that exactly one of `succeeded`
 * and `failed` is called when it ends: at once for a value; when a thenable settles; and with
 * the error, which is then rethrown to the caller, when its `then` cannot be read or throws.
 * `then` is read once, as the promise resolution procedure does, since a getter may answer
 * differently each time.
 */
export function followResult<T>(result: T, succeeded: () => void, failed: (error: unknown) => void): T {
  let then: unknown;
  try {
    then = (typeof result === 'object' || typeof result === 'function') && result !== null ? (result as { then?: unknown }).then : undefined;
  } catch (error) {
    failed(error);
    throw error;
  }
  if (typeof then !== 'function') {
    succeeded();
    return result;
  }
  // A thenable that is not a promise may call its callbacks synchronously, both, or more than
  // once, and throw after calling one: the first outcome is the one reported.
  let ended = false;
  const end = (outcome: () => void): void => {
    if (ended) return;
    ended = true;
    outcome();
  };
  try {
    return (then as PromiseLike<unknown>['then']).call(
      result,
      (value) => {
        end(succeeded);
        return value;
      },
      (error: unknown) => {
        end(() => failed(error));
        throw error;
      },
    ) as T;
  } catch (error) {
    end(() => failed(error));
    throw error;
  }
}

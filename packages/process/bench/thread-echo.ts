// The behavior the thread benchmark calls: it replies with the request.
export const echo = { handleCall: (request: unknown): unknown => request };

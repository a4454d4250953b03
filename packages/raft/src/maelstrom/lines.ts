// Newline-delimited input with a bound on a line. readline holds a line as one string until its
// end: a line longer than V8's longest string (512 MiB) throws out of the stream's data handler
// and ends the process, and a long one holds its whole length until then. Here a line past the
// bound is dropped as it arrives, its bytes never kept, and reported with its length.
import type { Readable } from 'node:stream';

export interface LineHandlers {
  line(text: string): void;
  /** A line of `bytes` bytes (without its newline) was dropped for being longer than the bound. */
  oversized(bytes: number): void;
  end(): void;
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;

export function readLines(input: Readable, maxLineBytes: number, handlers: LineHandlers): void {
  let parts: Buffer[] = [];
  let held = 0;
  /** Bytes of the line being dropped so far, or -1 while the line fits. */
  let dropped = -1;

  const finish = (last: Buffer): void => {
    if (dropped >= 0) {
      const bytes = dropped + last.length;
      dropped = -1;
      handlers.oversized(bytes);
      return;
    }
    const whole = parts.length === 0 ? last : Buffer.concat([...parts, last]);
    parts = [];
    held = 0;
    // As readline does, a line may end in \r\n.
    const end = whole.length > 0 && whole[whole.length - 1] === RETURN ? whole.length - 1 : whole.length;
    handlers.line(whole.toString('utf8', 0, end));
  };

  const hold = (piece: Buffer): void => {
    if (piece.length === 0) return;
    if (dropped >= 0) {
      dropped += piece.length;
      return;
    }
    if (held + piece.length > maxLineBytes) {
      dropped = held + piece.length;
      parts = [];
      held = 0;
      return;
    }
    // A copy: the stream's chunk may be a view of a larger pooled buffer.
    parts.push(Buffer.from(piece));
    held += piece.length;
  };

  input.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let newline = chunk.indexOf(NEWLINE, start); newline >= 0; newline = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      if (dropped < 0 && held + piece.length > maxLineBytes) {
        dropped = held;
        parts = [];
        held = 0;
      }
      finish(piece);
    }
    hold(chunk.subarray(start));
  });
  input.on('end', () => {
    // A last line without a newline still counts, as with readline.
    if (held > 0 || dropped >= 0) finish(Buffer.alloc(0));
    handlers.end();
  });
}

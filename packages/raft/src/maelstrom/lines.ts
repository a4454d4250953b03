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
  // A line may end in \r\n, as readline takes it: that \r ends the line and is none of its
  // text, so one byte past the bound is held until the newline shows whether it is one.
  const maxHeld = maxLineBytes + 1;
  let parts: Buffer[] = [];
  let held = 0;
  /** Bytes of the line being dropped so far, or -1 while the line fits. */
  let dropped = -1;
  /** Whether the last byte counted in `dropped` is a \r. */
  let droppedReturn = false;

  const endsInReturn = (bytes: Buffer): boolean => bytes.length > 0 && bytes[bytes.length - 1] === RETURN;

  const drop = (bytes: number, lastPiece: Buffer | undefined): void => {
    dropped = bytes;
    droppedReturn = lastPiece !== undefined && endsInReturn(lastPiece);
    parts = [];
    held = 0;
  };

  const finish = (last: Buffer): void => {
    if (dropped >= 0) {
      const returned = last.length > 0 ? endsInReturn(last) : droppedReturn;
      const bytes = dropped + last.length - (returned ? 1 : 0);
      dropped = -1;
      handlers.oversized(bytes);
      return;
    }
    const whole = parts.length === 0 ? last : Buffer.concat([...parts, last]);
    parts = [];
    held = 0;
    const end = endsInReturn(whole) ? whole.length - 1 : whole.length;
    if (end > maxLineBytes) handlers.oversized(end);
    else handlers.line(whole.toString('utf8', 0, end));
  };

  const hold = (piece: Buffer): void => {
    if (piece.length === 0) return;
    if (dropped >= 0) {
      dropped += piece.length;
      droppedReturn = endsInReturn(piece);
      return;
    }
    if (held + piece.length > maxHeld) {
      drop(held + piece.length, piece);
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
      if (dropped < 0 && held + piece.length > maxHeld) drop(held, parts[parts.length - 1]);
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

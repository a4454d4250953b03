import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { readLines } from './lines';

function collect(chunks: readonly (string | Buffer)[], maxLineBytes: number): Promise<{ lines: string[]; oversized: number[] }> {
  const input = new PassThrough();
  const lines: string[] = [];
  const oversized: number[] = [];
  const done = new Promise<{ lines: string[]; oversized: number[] }>((resolve) => {
    readLines(input, maxLineBytes, { line: (text) => lines.push(text), oversized: (bytes) => oversized.push(bytes), end: () => resolve({ lines, oversized }) });
  });
  for (const chunk of chunks) input.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  input.end();
  return done;
}

describe('reading lines with a bound', () => {
  it('splits lines across chunks, keeps characters split between them, takes \\r\\n and a last line without a newline', async () => {
    const euro = Buffer.from('€'); // three bytes
    const outcome = await collect(['{"a":', '1}\n\n', Buffer.concat([Buffer.from('x'), euro.subarray(0, 1)]), Buffer.concat([euro.subarray(1), Buffer.from('y\r\nlast')])], 64);
    expect(outcome).toEqual({ lines: ['{"a":1}', '', 'x€y', 'last'], oversized: [] });
  });

  it('drops a line past the bound, whether it ends in the chunk that passed it or chunks later, and reads on', async () => {
    const outcome = await collect(['12345678\n', '123456789\nok\n', '1234', '5678', '90', '\nafter\n', '123456789012'], 8);
    expect(outcome).toEqual({ lines: ['12345678', 'ok', 'after'], oversized: [9, 10, 12] });
  });
});
